# R reference timing for benchmarks/bench_lmm.py: the random-intercept LMM fitted with lme4.
#
# Usage:
#   Rscript benchmarks/bench_lmm.R DATA.csv REPEATS [WARMUP]
#
# DATA.csv: participant, arm (PBO/TRT), visit (VIS1..), baseline, age, y (rows with y present).
# Model: lme4::lmer(y ~ baseline + age + arm * visit + (1 | participant), REML = TRUE), default
# control (the timed reference). Each fit is timed inside R with proc.time() (elapsed): R's
# start-up, package loading and reading the CSV are excluded; WARMUP (default 1) untimed fits run
# first. A second, untimed fit with tight BOBYQA tolerances (as tests/models/lmm_lme4.R) gives
# the estimates to compare with (the default stopping rule leaves ~1e-6 in the variances).
# The last line printed on stdout is one JSON object:
#   {"ok": true, "engine": "lme4::lmer", "times_s": [...], "median_s": ...,
#    "default": {fixef, sigma_u2, sigma2, neg2_reml}, "tight": {...}, "terms": [...], ...}
# or {"ok": false, "error": "..."} (exit status 0 in both cases, so the caller can report it).

json_string <- function(x) paste0("\"", gsub("[\"\\\\\r\n\t]", " ", x), "\"")
json_number <- function(x) if (length(x) != 1 || !is.finite(x)) "null" else sprintf("%.17g", x)
json_array <- function(x, f = json_number) paste0("[", paste(vapply(x, f, ""), collapse = ", "), "]")
json_object <- function(fields) {
  paste0("{", paste(vapply(names(fields), function(k) paste0(json_string(k), ": ", fields[[k]]), ""),
                    collapse = ", "), "}")
}
fail <- function(message) {
  cat(json_object(list(ok = "false", error = json_string(message))), "\n", sep = "")
  quit(save = "no", status = 0)
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) fail("usage: bench_lmm.R DATA.csv REPEATS [WARMUP]")
repeats <- as.integer(args[2])
warmup <- if (length(args) >= 3) as.integer(args[3]) else 1L
if (is.na(repeats) || repeats < 1) fail("REPEATS must be a positive integer")
if (!requireNamespace("lme4", quietly = TRUE)) fail("the R package lme4 is not installed")

d <- tryCatch(read.csv(args[1], colClasses = c(participant = "character", arm = "character",
                                                visit = "character")),
              error = function(e) fail(paste("cannot read", args[1], ":", conditionMessage(e))))
d$arm <- factor(d$arm, levels = c("PBO", "TRT"))
d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
d$participant <- factor(d$participant)
model <- y ~ baseline + age + arm * visit + (1 | participant)

summarise <- function(fit) {
  vc <- as.data.frame(lme4::VarCorr(fit))
  json_object(list(
    fixef = json_array(unname(lme4::fixef(fit))),
    sigma_u2 = json_number(vc$vcov[vc$grp == "participant"]),
    sigma2 = json_number(vc$vcov[vc$grp == "Residual"]),
    neg2_reml = json_number(-2 * as.numeric(logLik(fit, REML = TRUE)))
  ))
}

times <- numeric(0)
result <- tryCatch({
  for (i in seq_len(warmup)) fit <- lme4::lmer(model, data = d, REML = TRUE)
  for (i in seq_len(repeats)) {
    start <- proc.time()[["elapsed"]]
    fit <- lme4::lmer(model, data = d, REML = TRUE)
    times <- c(times, proc.time()[["elapsed"]] - start)
  }
  tight <- lme4::lmer(model, data = d, REML = TRUE,
                      control = lme4::lmerControl(optimizer = "bobyqa",
                                                  optCtrl = list(rhobeg = 2e-4, rhoend = 2e-12, maxfun = 1e5),
                                                  check.conv.singular = "ignore"))
  TRUE
}, error = function(e) conditionMessage(e))
if (!isTRUE(result)) fail(paste("lme4::lmer failed:", result))

cat(json_object(list(
  ok = "true",
  engine = json_string("lme4::lmer"),
  call = json_string("lmer(y ~ baseline + age + arm * visit + (1 | participant), REML = TRUE)"),
  times_s = json_array(times),
  median_s = json_number(median(times)),
  warmup = json_number(warmup),
  terms = json_array(names(lme4::fixef(fit)), json_string),
  n_obs = json_number(nrow(d)),
  n_participants = json_number(nlevels(d$participant)),
  default = summarise(fit),
  tight = summarise(tight),
  r_version = json_string(paste(R.version$major, R.version$minor, sep = ".")),
  lme4_version = json_string(as.character(utils::packageVersion("lme4")))
)), "\n", sep = "")
