# lme4/lmerTest fits of the random-intercept LMM, for tests/models/test_lmm_lme4.py.
#   Rscript tests/models/lmm_lme4.R <data.csv> <out.csv>
# data.csv: participant, arm (reference level first in sort order: "PBO" < "TRT"), visit (VIS1 ..),
#   baseline, age, y. Model: y ~ baseline + age + arm * visit + (1 | participant), REML (lme4::lmer).
# out.csv: one row per visit: the treatment - reference contrast at that visit (arm + arm:visit
#   coefficients, lmerTest::contest1D, Satterthwaite df), with the variance components, the REML
#   criterion (-2 REML log-likelihood) and lme4's isSingular().
suppressPackageStartupMessages({ library(lme4); library(lmerTest) })
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(participant = "character", arm = "character", visit = "character"))
d$arm <- factor(d$arm, levels = c("PBO", "TRT"))
d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-12, maxfun = 1e5),
                    check.conv.singular = "ignore")
fit <- lmerTest::lmer(y ~ baseline + age + arm * visit + (1 | participant), data = d, REML = TRUE, control = ctrl)
vc <- as.data.frame(VarCorr(fit))
beta <- fixef(fit)
rows <- lapply(levels(d$visit), function(v) {
  L <- setNames(numeric(length(beta)), names(beta))
  L["armTRT"] <- 1
  inter <- paste0("armTRT:visit", v)
  if (inter %in% names(L)) L[inter] <- 1
  r <- lmerTest::contest1D(fit, L)
  data.frame(visit = v, estimate = r$Estimate, std_error = r[["Std. Error"]], df = r$df,
             sigma_u2 = vc$vcov[vc$grp == "participant"], sigma2 = vc$vcov[vc$grp == "Residual"],
             neg2_reml_loglik = -2 * as.numeric(logLik(fit, REML = TRUE)), singular = isSingular(fit))
})
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
