# R reference timing for benchmarks/bench_mmrm.py: the MMRM fitted with nlme::gls.
#
# Usage:
#   Rscript benchmarks/bench_gls.R DATA.csv RESPONSE RHS SUBJECT VISIT REPEATS [WARMUP]
# e.g.
#   Rscript benchmarks/bench_gls.R fev_data.csv FEV1 "RACE + ARMCD*AVISIT" USUBJID AVISIT 5 1
#
# Model (unstructured covariance, as in the mmrm package's method comparison):
#   nlme::gls(RESPONSE ~ RHS,
#             correlation = corSymm(form = ~ as.integer(VISIT) | SUBJECT),
#             weights = varIdent(form = ~ 1 | VISIT),
#             method = "REML", na.action = na.omit)
# Character columns become factors with alphabetically sorted levels (first = reference),
# as in the Python benchmark. Each fit is timed inside R with proc.time() (elapsed), so R's
# start-up, package loading and reading the CSV are excluded; WARMUP (default 0) untimed fits
# run first. The last line printed on stdout is one JSON object:
#   {"ok": true, "engine": "nlme::gls", "times_s": [...], "median_s": ..., "neg2_loglik": ...,
#    "n_obs": ..., "n_subjects": ..., "n_coef": ..., "r_version": ..., "nlme_version": ...}
# or {"ok": false, "error": "..."} (exit status 0 in both cases, so the caller can report it).

json_string <- function(x) {
  x <- gsub("\\\\", "\\\\\\\\", x)
  x <- gsub("\"", "\\\\\"", x)
  x <- gsub("[\r\n\t]", " ", x)
  paste0("\"", x, "\"")
}

json_number <- function(x) {
  if (length(x) != 1 || !is.finite(x)) return("null")
  sprintf("%.17g", x)
}

emit <- function(fields) {
  parts <- vapply(names(fields), function(k) paste0(json_string(k), ": ", fields[[k]]), "")
  cat("{", paste(parts, collapse = ", "), "}\n", sep = "")
}

fail <- function(message) {
  emit(list(ok = "false", error = json_string(message)))
  quit(save = "no", status = 0)
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 6) {
  fail("usage: bench_gls.R DATA.csv RESPONSE RHS SUBJECT VISIT REPEATS [WARMUP]")
}
data_path <- args[1]
response <- args[2]
rhs <- args[3]
subject <- args[4]
visit <- args[5]
repeats <- as.integer(args[6])
warmup <- if (length(args) >= 7) as.integer(args[7]) else 0L
if (is.na(repeats) || repeats < 1) fail("REPEATS must be a positive integer")

if (!requireNamespace("nlme", quietly = TRUE)) fail("the R package nlme is not installed")

dat <- tryCatch(read.csv(data_path, stringsAsFactors = FALSE),
                error = function(e) fail(paste("cannot read", data_path, ":", conditionMessage(e))))
for (name in names(dat)) {
  if (is.character(dat[[name]])) {
    dat[[name]] <- factor(dat[[name]], levels = sort(unique(dat[[name]]), method = "radix"))
  }
}
dat[[subject]] <- factor(dat[[subject]])
if (!is.factor(dat[[visit]])) {
  dat[[visit]] <- factor(dat[[visit]], levels = sort(unique(dat[[visit]]), method = "radix"))
}

model <- as.formula(paste(response, "~", rhs))
cor_form <- as.formula(paste("~ as.integer(", visit, ") |", subject))
var_form <- as.formula(paste("~ 1 |", visit))

fit_once <- function() {
  nlme::gls(model, data = dat,
            correlation = nlme::corSymm(form = cor_form),
            weights = nlme::varIdent(form = var_form),
            method = "REML", na.action = na.omit)
}

fit <- NULL
times <- numeric(0)
result <- tryCatch({
  for (i in seq_len(warmup)) fit <- fit_once()
  for (i in seq_len(repeats)) {
    start <- proc.time()[["elapsed"]]
    fit <- fit_once()
    times <- c(times, proc.time()[["elapsed"]] - start)
  }
  TRUE
}, error = function(e) conditionMessage(e))
if (!isTRUE(result)) fail(paste("nlme::gls failed:", result))

used <- dat[!is.na(dat[[response]]), ]
emit(list(
  ok = "true",
  engine = json_string("nlme::gls"),
  call = json_string(paste0("gls(", response, " ~ ", rhs, ", correlation = corSymm(form = ~ as.integer(",
                            visit, ") | ", subject, "), weights = varIdent(form = ~ 1 | ", visit,
                            "), method = \"REML\", na.action = na.omit)")),
  times_s = paste0("[", paste(vapply(times, json_number, ""), collapse = ", "), "]"),
  median_s = json_number(median(times)),
  warmup = json_number(warmup),
  neg2_loglik = json_number(-2 * as.numeric(logLik(fit))),
  n_obs = json_number(nobs(fit)),
  n_subjects = json_number(length(unique(used[[subject]]))),
  n_coef = json_number(length(coef(fit))),
  r_version = json_string(paste(R.version$major, R.version$minor, sep = ".")),
  nlme_version = json_string(as.character(utils::packageVersion("nlme")))
))
