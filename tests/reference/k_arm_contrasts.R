# Reference contrasts for trials with three or more arms, for tests/models/test_primary_k_arms.py.
#   Rscript tests/reference/k_arm_contrasts.R <data.csv> <out.csv> <arms> <mode> [outcomes]
#     arms: comma-separated arm labels, the reference first (e.g. midazolam,ketamine-0.2,ketamine-0.5)
#     mode: vs_reference (emmeans "trt.vs.ctrl") or all_pairs (emmeans "revpairwise": every pair,
#           later arm minus earlier arm)
#     outcomes: comma-separated name=column pairs (default CAPS-5=caps5,PCL-5=pcl5,MADRS=madrs)
# For each outcome: change from baseline ~ baseline + arm * visit over the post-baseline visits
#   mmrm: nlme::gls, unstructured covariance (corSymm + varIdent by visit), REML; emmeans
#         contrasts by visit. df: the exact Satterthwaite df computed here (dense REML
#         likelihood in the covariance elements, numDeriv Hessian and gradient, as
#         tests/reference/demo_contrasts.R); emmeans' own gls Satterthwaite df (mode =
#         "satterthwaite", from nlme's apVar) is kept as df_emmeans.
#   lmm:  lme4::lmer with a random participant intercept (lmerTest), REML; emmeans with
#         lmer.df = "satterthwaite".
# Adjusted columns, across the comparisons at each visit:
#   *_mvt:     emmeans summary(adjust = "mvt") with the df column (the gls contrast grid is given
#              the exact df), i.e. mvtnorm's pmvt/qmvt at its default accuracy (abseps 1e-3);
#   *_precise: the same rule computed here with mvtnorm at abseps 1e-5 (df rounded as emmeans'
#              .fix.df: floor(max(1, df) + 0.25));
#   *_holm:    emmeans adjust = "holm" (Holm p-values, Bonferroni intervals).
suppressPackageStartupMessages({
  library(nlme); library(lme4); library(lmerTest); library(emmeans); library(numDeriv); library(mvtnorm)
})

reml_pieces <- function(par, X, y, subj, vnum, m) {
  S <- matrix(0, m, m)
  idx <- which(lower.tri(S, diag = TRUE), arr.ind = TRUE)
  idx <- idx[order(idx[, 1], idx[, 2]), , drop = FALSE]
  S[idx] <- par; S[idx[, 2:1]] <- par
  XtVX <- 0; XtVy <- 0; logdet <- 0; blocks <- list()
  for (s in unique(subj)) {
    r <- which(subj == s); v <- vnum[r]
    ch <- chol(S[v, v, drop = FALSE]); Vinv <- chol2inv(ch); Xi <- X[r, , drop = FALSE]
    XtVX <- XtVX + t(Xi) %*% Vinv %*% Xi
    XtVy <- XtVy + t(Xi) %*% Vinv %*% y[r]
    logdet <- logdet + 2 * sum(log(diag(ch)))
    blocks[[length(blocks) + 1]] <- list(r = r, Vinv = Vinv)
  }
  Phi <- solve(XtVX); beta <- Phi %*% XtVy
  quad <- 0
  for (b in blocks) { e <- y[b$r] - X[b$r, , drop = FALSE] %*% beta; quad <- quad + t(e) %*% b$Vinv %*% e }
  list(neg2 = as.numeric(logdet + quad + determinant(XtVX)$modulus + (length(y) - ncol(X)) * log(2 * pi)),
       Phi = Phi, beta = beta)
}

# Exact Satterthwaite df of the rows of L (over the gls coefficients) at nlme's estimate.
exact_satterthwaite_df <- function(gls_fit, d, L) {
  X <- model.matrix(~ baseline + arm * visit, d); y <- d$change
  stopifnot(identical(colnames(X), names(coef(gls_fit))))
  m <- nlevels(d$visit)
  cm <- coef(gls_fit$modelStruct$corStruct, unconstrained = FALSE)
  R <- diag(m); R[lower.tri(R)] <- cm; R <- R + t(R) - diag(m)
  ratios <- c(1, coef(gls_fit$modelStruct$varStruct, unconstrained = FALSE))
  names(ratios)[1] <- setdiff(levels(d$visit), names(ratios))[1]
  sds <- gls_fit$sigma * ratios[levels(d$visit)]
  full <- diag(sds) %*% R %*% diag(sds)
  idx <- which(lower.tri(full, diag = TRUE), arr.ind = TRUE)
  idx <- idx[order(idx[, 1], idx[, 2]), , drop = FALSE]
  par <- full[idx]
  A <- 2 * solve(numDeriv::hessian(function(p) reml_pieces(p, X, y, d$participant, d$vnum, m)$neg2, par))
  sapply(seq_len(nrow(L)), function(i) {
    l <- L[i, ]
    v <- function(p) as.numeric(t(l) %*% reml_pieces(p, X, y, d$participant, d$vnum, m)$Phi %*% l)
    g <- numDeriv::grad(v, par)
    2 * v(par)^2 / as.numeric(t(g) %*% A %*% g)
  })
}

fix_df <- function(df) ifelse(is.infinite(df) | df > 9999, 0, floor(pmax(1, df) + 0.25))
# (qt(., 0) is NaN: df 0 means the normal in mvtnorm; the demo's df are far below 9999)

# Dunnett (mvt) adjusted p-values and critical values at high accuracy, by visit (one critical
# value per visit and rounded df).
precise_mvt <- function(ct_summary, V) {
  out <- data.frame(p = NA_real_, crit = NA_real_)[rep(1, nrow(ct_summary)), ]
  alg <- GenzBretz(maxpts = 2e5, abseps = 1e-5, releps = 0)
  for (v in unique(ct_summary$visit)) {
    rows <- which(ct_summary$visit == v)
    R <- cov2cor(V[rows, rows])
    k <- length(rows)
    crit <- list()
    for (j in rows) {
      nu <- fix_df(ct_summary$df[j]); t <- abs(ct_summary$t.ratio[j])
      set.seed(1)
      out$p[j] <- 1 - pmvt(rep(-t, k), rep(t, k), df = nu, corr = R, algorithm = alg)[1]
      key <- as.character(nu)
      if (is.null(crit[[key]])) {
        # qmvt at this accuracy is slow: solve pmvt(c) = 0.95 directly (same seed at every c)
        prob <- function(c) { set.seed(1); pmvt(rep(-c, k), rep(c, k), df = nu, corr = R, algorithm = alg)[1] }
        crit[[key]] <- uniroot(function(c) prob(c) - 0.95, c(qt(0.975, nu), qt(1 - 0.025 / k, nu) + 0.01),
                               tol = 1e-9)$root
      }
      out$crit[j] <- crit[[key]]
    }
  }
  out
}

args <- commandArgs(trailingOnly = TRUE)
data_path <- args[1]; out_path <- args[2]
arms <- strsplit(args[3], ",")[[1]]
mode <- args[4]
spec <- if (length(args) >= 5) args[5] else "CAPS-5=caps5,PCL-5=pcl5,MADRS=madrs"
pairs <- strsplit(strsplit(spec, ",")[[1]], "=")
outcomes <- setNames(sapply(pairs, `[`, 2), sapply(pairs, `[`, 1))
method <- if (mode == "all_pairs") "revpairwise" else "trt.vs.ctrl"
raw <- read.csv(data_path, stringsAsFactors = FALSE, check.names = FALSE)
visits_all <- unique(raw$visit)
post <- visits_all[-1]

# our name of a comparison: the treatment arm (minus the reference), "B vs A" otherwise
comparison_name <- function(label) {
  parts <- strsplit(as.character(label), " - ", fixed = TRUE)
  sapply(parts, function(p) {
    p <- gsub("^\\(|\\)$", "", p)
    if (p[2] == arms[1]) p[1] else paste(p[1], "vs", p[2])
  })
}

summaries <- function(ct, name, model, df_emmeans) {
  un <- summary(ct, infer = c(TRUE, TRUE), adjust = "none")
  set.seed(1)
  mvt <- summary(ct, infer = c(TRUE, TRUE), adjust = "mvt")
  holm <- summary(ct, infer = c(TRUE, TRUE), adjust = "holm")
  prec <- precise_mvt(un, vcov(ct))
  data.frame(outcome = name, model = model, visit = as.character(un$visit),
             treatment = comparison_name(un$contrast), estimate = un$estimate, std_error = un$SE,
             df = un$df, df_emmeans = df_emmeans, ci_lower = un$lower.CL, ci_upper = un$upper.CL,
             p_value = un$p.value,
             ci_lower_mvt = mvt$lower.CL, ci_upper_mvt = mvt$upper.CL, p_value_mvt = mvt$p.value,
             ci_lower_precise = un$estimate - prec$crit * un$SE,
             ci_upper_precise = un$estimate + prec$crit * un$SE, p_value_precise = prec$p,
             ci_lower_holm = holm$lower.CL, ci_upper_holm = holm$upper.CL, p_value_holm = holm$p.value)
}

rows <- list()
for (name in names(outcomes)) {
  col <- outcomes[[name]]
  base <- raw[raw$visit == visits_all[1], c("participant", col)]
  names(base)[2] <- "baseline"
  d <- merge(raw[raw$visit %in% post, c("participant", "arm", "visit", col)], base, by = "participant")
  d$change <- d[[col]] - d$baseline
  d <- d[!is.na(d$change) & !is.na(d$baseline), ]
  d$arm <- factor(d$arm, levels = arms)
  d$visit <- factor(d$visit, levels = post)
  d$participant <- factor(d$participant)
  d$vnum <- as.integer(d$visit)
  d <- d[order(d$participant, d$visit), ]

  gls_fit <- gls(change ~ baseline + arm * visit, data = d, method = "REML",
                 correlation = corSymm(form = ~ vnum | participant),
                 weights = varIdent(form = ~ 1 | visit),
                 control = glsControl(tolerance = 1e-10, msTol = 1e-10, returnObject = FALSE,
                                      msMaxIter = 500, maxIter = 500))
  em <- suppressMessages(emmeans(gls_fit, ~ arm | visit, mode = "satterthwaite", data = d))
  ct <- contrast(em, method = method)
  df_emmeans <- summary(ct)$df
  exact <- exact_satterthwaite_df(gls_fit, d, ct@linfct)
  # give the contrast grid the exact df, so that every emmeans summary (incl. mvt) uses them
  ct@dfargs <- list(K = ct@linfct, df = exact)
  ct@dffun <- function(k, dfargs) dfargs$df[which.min(colSums(abs(t(dfargs$K) - as.vector(k))))]
  rows[[length(rows) + 1]] <- summaries(ct, name, "mmrm", df_emmeans)

  lmm_fit <- lmer(change ~ baseline + arm * visit + (1 | participant), data = d, REML = TRUE,
                  control = lmerControl(optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14)))
  em <- emmeans(lmm_fit, ~ arm | visit, lmer.df = "satterthwaite")
  ct <- contrast(em, method = method)
  rows[[length(rows) + 1]] <- summaries(ct, name, "lmm", summary(ct)$df)
}
write.csv(do.call(rbind, rows), out_path, row.names = FALSE)
cat(sprintf("R %s, nlme %s, lme4 %s, lmerTest %s, emmeans %s, mvtnorm %s\n", getRversion(),
            packageVersion("nlme"), packageVersion("lme4"), packageVersion("lmerTest"),
            packageVersion("emmeans"), packageVersion("mvtnorm")))
