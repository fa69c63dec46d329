# Reference contrasts for the demo crossover trial from R, for tests/test_crossover.py.
#   Rscript tests/reference/crossover_contrasts.R <data.csv> <out.csv>
# Two-period, two-treatment crossover; change = IES-R 24 h after the infusion minus the IES-R
# before it (period baseline). Random participant intercept, REML (lme4::lmer + lmerTest):
#   full:    change ~ treatment + period + sequence + period_baseline + (1 | participant)
#   minimal: change ~ treatment + period + (1 | participant)
# emmeans ketamine - midazolam (other factors averaged with equal weights), with
#   lmer.df = "satterthwaite" (lmerTest) and lmer.df = "kenward-roger" (pbkrtest: adjusted
#   covariance and df). Rows with a missing change (period 2 not done) are dropped.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(emmeans); library(pbkrtest)
})
args <- commandArgs(trailingOnly = TRUE)
data_path <- if (length(args) >= 1) args[1] else "data/demo-crossover/ketamine_ptsd_crossover_demo.csv"
out_path <- if (length(args) >= 2) args[2] else "tests/reference/crossover_r_contrasts.csv"
raw <- read.csv(data_path, stringsAsFactors = FALSE)
d <- data.frame(participant = factor(raw$participant),
                sequence = factor(raw$sequence, levels = c("KM", "MK")),
                period = factor(raw$period, levels = c(1, 2)),
                treatment = factor(raw$treatment, levels = c("midazolam", "ketamine")),
                period_baseline = raw$ies_r_pre,
                change = raw$ies_r_24h - raw$ies_r_pre)
d <- d[!is.na(d$change), ]
emm_options(pbkrtest.limit = 10000, lmerTest.limit = 10000)
formulas <- c(full = "change ~ treatment + period + sequence + period_baseline + (1 | participant)",
              minimal = "change ~ treatment + period + (1 | participant)")
rows <- list()
for (variant in names(formulas)) {
  fit <- lmer(as.formula(formulas[[variant]]), data = d, REML = TRUE,
              control = lmerControl(optimizer = "bobyqa",
                                    optCtrl = list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e5)))
  vc <- as.data.frame(VarCorr(fit))
  for (df_method in c("satterthwaite", "kenward-roger")) {
    em <- emmeans(fit, ~ treatment, lmer.df = df_method)
    ct <- summary(contrast(em, method = "revpairwise"), infer = c(TRUE, TRUE))
    rows[[length(rows) + 1]] <- data.frame(
      outcome = "IES-R", model = "crossover_lmm", visit = "24h", variant = variant,
      df_method = df_method, estimate = ct$estimate, std_error = ct$SE, df = ct$df,
      ci_lower = ct$lower.CL, ci_upper = ct$upper.CL, p_value = ct$p.value,
      neg2_reml_loglik = -2 * as.numeric(logLik(fit)),
      sigma_u2 = vc$vcov[vc$grp == "participant"], sigma2 = vc$vcov[vc$grp == "Residual"],
      n_observations = nrow(d))
  }
}
out <- do.call(rbind, rows)
write.csv(out, out_path, row.names = FALSE)
cat(sprintf("R %s, lme4 %s, lmerTest %s, emmeans %s, pbkrtest %s\n", getRversion(),
            packageVersion("lme4"), packageVersion("lmerTest"), packageVersion("emmeans"),
            packageVersion("pbkrtest")))
