# Reference MMRM contrasts for a gallery trial from R, for tests/test_gallery.py.
#   Rscript tests/gallery/gallery_contrasts.R <config.yaml> <data.csv> <out.csv>
# <data.csv> is the trial's data as CSV with the header on line 1 (the test converts Excel and
# SPSS files; SPSS value labels applied). The config is read here, independently of pilottrial:
# layout long or wide, arm and visit labels (YAML numbers match numeric codes: 8 = "8" = "8.0"),
# missing codes (data.missing_codes, outcomes[].missing_codes), the baseline from the baseline
# visit or from outcomes[].baseline_column, covariates and strata (numeric when every value is a
# number, else factors), analysis.response and analysis.baseline_by_visit.
#
# Model, per outcome, over the post-baseline visits (all visits when analysis.response is raw):
#   change ~ baseline [+ baseline:visit] + covariates + arm * visit   (score ~ ... when raw)
#   nlme::gls, unstructured covariance (corSymm + varIdent by visit), REML (optimizer nlminb,
#   then optim BFGS if nlminb stops); a single visit:
#   gls without correlation (ANCOVA). Contrasts: treatment - reference at each visit by emmeans
#   (mode "df.error"; estimate and model-based SE from (X'V^-1X)^-1, as pilottrial's).
# Output: outcome, visit, estimate, std_error, converged, message, neg2_reml_loglik,
#   n_participants, n_observations; converged = FALSE (and the error) where gls fails.
suppressPackageStartupMessages({library(nlme); library(emmeans); library(yaml)})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript gallery_contrasts.R <config.yaml> <data.csv> <out.csv>")
cfg <- read_yaml(args[1])
raw <- read.csv(args[2], colClasses = "character", na.strings = c("", "NA"), check.names = FALSE,
                strip.white = TRUE)

as_label <- function(x) if (is.numeric(x)) format(x, scientific = FALSE, trim = TRUE) else as.character(x)
is_label <- function(values, label) {
  # the same text, or the same number when both are numbers ("8", "8.0" and YAML 8)
  nv <- suppressWarnings(as.numeric(values)); nl <- suppressWarnings(as.numeric(label))
  same <- !is.na(values) & values == label
  same | (!is.na(nv) & !is.na(nl) & nv == nl)
}
to_labels <- function(values, labels) {
  out <- rep(NA_character_, length(values))
  for (l in labels) out[is_label(values, l)] <- l
  out
}
as_score <- function(values, codes) {
  for (code in codes) values[is_label(values, code)] <- NA
  suppressWarnings(as.numeric(values))
}

cols <- cfg$columns
arms <- c(as_label(cfg$arms$reference), as_label(cfg$arms$treatment))
order <- vapply(cfg$visits$order, as_label, "")
baseline_visit <- if (is.null(cfg$visits$baseline)) NULL else as_label(cfg$visits$baseline)
raw_response <- identical(cfg$analysis$response, "raw")
baseline_by_visit <- isTRUE(cfg$analysis$baseline_by_visit)
layout <- if (is.null(cfg$data$layout)) "long" else cfg$data$layout
data_codes <- vapply(cfg$data$missing_codes, as_label, "")
covariates <- unique(c(unlist(cfg$analysis$covariates), unlist(cfg$analysis$strata)))

participant <- raw[[cols$participant]]
arm <- to_labels(raw[[cols$arm]], arms)
per_participant <- function(values) {
  first <- tapply(values, participant, function(v) v[!is.na(v)][1])
  unname(first[participant])
}

one_outcome <- function(o) {
  codes <- c(data_codes, vapply(o$missing_codes, as_label, ""))
  if (layout == "wide") {
    visits <- names(o$columns)
    long <- do.call(rbind, lapply(visits, function(v) data.frame(
      participant = participant, arm = arm, visit = v, score = as_score(raw[[o$columns[[v]]]], codes),
      row = seq_along(participant), stringsAsFactors = FALSE)))
  } else {
    long <- data.frame(participant = participant, arm = arm, visit = to_labels(raw[[cols$visit]], order),
                       score = as_score(raw[[o$column]], codes), row = seq_along(participant),
                       stringsAsFactors = FALSE)
  }
  if (!is.null(o$baseline_column)) {
    long$baseline <- per_participant(as_score(raw[[o$baseline_column]], codes))[long$row]
    post <- setdiff(order, baseline_visit)
  } else if (raw_response) {
    long$baseline <- 0
    post <- order
  } else {
    at_baseline <- long[!is.na(long$visit) & long$visit == baseline_visit, ]
    long$baseline <- at_baseline$score[match(long$participant, at_baseline$participant)]
    post <- setdiff(order, baseline_visit)
  }
  for (c in covariates) {
    values <- per_participant(raw[[c]])[long$row]
    numbers <- suppressWarnings(as.numeric(values))
    long[[c]] <- if (sum(!is.na(numbers)) == sum(!is.na(values))) numbers else factor(values)
  }
  long$response <- if (raw_response) long$score else long$score - long$baseline
  d <- long[!is.na(long$visit) & long$visit %in% post & !is.na(long$arm), ]
  d <- d[complete.cases(d[, c("response", "baseline", covariates)]), ]
  d$visit <- factor(d$visit, levels = post[post %in% d$visit])
  d$arm <- factor(d$arm, levels = arms)
  d$participant <- factor(d$participant)
  d$vnum <- as.integer(d$visit)
  d <- d[order(d$participant, d$vnum), ]
  result <- function(visit, estimate = NA, se = NA, converged = FALSE, message = "", neg2 = NA)
    data.frame(outcome = o$name, visit = visit, estimate = estimate, std_error = se, converged = converged,
               message = message, neg2_reml_loglik = neg2, n_participants = nlevels(droplevels(d$participant)),
               n_observations = nrow(d), stringsAsFactors = FALSE)
  if (nrow(d) == 0) return(result(NA, message = "no post-baseline scores"))

  terms <- c(if (!raw_response) "baseline", covariates)
  several <- nlevels(d$visit) > 1
  if (several && baseline_by_visit && !raw_response) terms <- c(terms, "baseline:visit")
  terms <- c(terms, if (several) "arm * visit" else "arm")
  formula <- as.formula(paste("response ~", paste(terms, collapse = " + ")))
  fit_gls <- function(opt) {
    control <- glsControl(tolerance = 1e-10, msTol = 1e-10, msMaxIter = 1000, maxIter = 1000, opt = opt,
                          returnObject = FALSE)
    tryCatch(
      if (several) {
        gls(formula, data = d, method = "REML", correlation = corSymm(form = ~ vnum | participant),
            weights = varIdent(form = ~ 1 | visit), control = control)
      } else {
        gls(formula, data = d, method = "REML", control = control)
      },
      error = function(e) conditionMessage(e))
  }
  # nlminb (nlme's default; at most 200 function evaluations), then optim's BFGS
  fit <- fit_gls("nlminb")
  if (is.character(fit)) {
    first <- fit
    fit <- fit_gls("optim")
    if (is.character(fit)) fit <- paste0("nlminb: ", first, "; optim: ", fit)
  }
  if (is.character(fit)) return(result(levels(d$visit), message = gsub("[\r\n]+", " ", fit)))
  em <- if (several) emmeans(fit, ~ arm | visit, data = d, mode = "df.error") else emmeans(fit, ~ arm, data = d,
                                                                                        mode = "df.error")
  ct <- summary(contrast(em, method = "revpairwise"))
  visit <- if (several) as.character(ct$visit) else levels(d$visit)
  result(visit, ct$estimate, ct$SE, TRUE, "", -2 * as.numeric(logLik(fit)))
}

out <- do.call(rbind, lapply(cfg$outcomes, one_outcome))
write.csv(out, args[3], row.names = FALSE, na = "")
