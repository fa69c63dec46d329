# Reference contrasts for the demo trial from R, for tests/test_r_parity.py.
#   Rscript tests/reference/demo_contrasts.R <data.csv> <out.csv>
# For each outcome: change from baseline ~ baseline + arm * visit over the post-baseline visits
#   mmrm: nlme::gls, unstructured covariance (corSymm + varIdent by visit), REML;
#         emmeans treatment - reference at each visit. emmeans offers only an approximate
#         Satterthwaite df for gls ("appx-satterthwaite", kept as df_emmeans_appx), so the
#         df column is the exact Satterthwaite df computed here, independently of pilottrial:
#         dense REML likelihood in the covariance elements sigma_ij, numDeriv Hessian and
#         gradient at nlme's estimate, df = 2 v^2 / (g' A g), A = 2 H^-1 (Satterthwaite 1946).
#   lmm:  lme4::lmer with a random participant intercept (lmerTest), REML;
#         emmeans with lmer.df = "satterthwaite"
suppressPackageStartupMessages({
  library(nlme); library(lme4); library(lmerTest); library(emmeans); library(numDeriv)
})

# -2 REML log-likelihood and Phi = (X'V^-1X)^-1 at an unstructured covariance given by its
# lower triangle (row-wise: s11, s21, s22, s31, ...), subjects' blocks built densely.
reml_pieces <- function(par, X, y, subj, vnum, m) {
  S <- matrix(0, m, m); S[upper.tri(S, diag = TRUE)] <- 0
  idx <- which(lower.tri(S, diag = TRUE), arr.ind = TRUE)
  idx <- idx[order(idx[, 1], idx[, 2]), , drop = FALSE]
  S[idx] <- par; S[idx[, 2:1]] <- par
  XtVX <- 0; XtVy <- 0; logdet <- 0; blocks <- list()
  for (s in unique(subj)) {
    r <- which(subj == s); v <- vnum[r]
    Vi <- S[v, v, drop = FALSE]
    ch <- chol(Vi)
    Vinv <- chol2inv(ch)
    Xi <- X[r, , drop = FALSE]
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

exact_satterthwaite <- function(gls_fit, d, contrasts) {
  X <- model.matrix(~ baseline + arm * visit, d); y <- d$change
  m <- nlevels(d$visit)
  S <- getVarCov(gls_fit, individual = levels(d$participant)[which.max(table(d$participant))])
  full <- matrix(0, m, m)
  # covariance over all visits from the correlation matrix and the variance function
  cm <- coef(gls_fit$modelStruct$corStruct, unconstrained = FALSE)
  R <- diag(m); R[lower.tri(R)] <- cm; R <- R + t(R) - diag(m)
  ratios <- c(1, coef(gls_fit$modelStruct$varStruct, unconstrained = FALSE))
  names(ratios)[1] <- levels(d$visit)[1]
  sds <- gls_fit$sigma * ratios[levels(d$visit)]
  full <- diag(sds) %*% R %*% diag(sds)
  idx <- which(lower.tri(full, diag = TRUE), arr.ind = TRUE)
  idx <- idx[order(idx[, 1], idx[, 2]), , drop = FALSE]
  par <- full[idx]
  f <- function(p) reml_pieces(p, X, y, d$participant, d$vnum, m)$neg2
  H <- numDeriv::hessian(f, par)
  A <- 2 * solve(H)
  base <- reml_pieces(par, X, y, d$participant, d$vnum, m)
  sapply(seq_len(nrow(contrasts)), function(i) {
    L <- contrasts[i, ]
    v <- function(p) as.numeric(t(L) %*% reml_pieces(p, X, y, d$participant, d$vnum, m)$Phi %*% L)
    g <- numDeriv::grad(v, par)
    c(estimate = sum(L * base$beta), se = sqrt(v(par)), df = 2 * v(par)^2 / as.numeric(t(g) %*% A %*% g),
      neg2 = base$neg2)
  })
}
args <- commandArgs(trailingOnly = TRUE)
data_path <- if (length(args) >= 1) args[1] else "data/demo/ketamine_ptsd_demo.csv"
out_path <- if (length(args) >= 2) args[2] else "tests/reference/demo_r_contrasts.csv"
raw <- read.csv(data_path, stringsAsFactors = FALSE)
outcomes <- c("CAPS-5" = "caps5", "PCL-5" = "pcl5", "MADRS" = "madrs")
post <- c("24h", "7d", "30d")
rows <- list()
for (name in names(outcomes)) {
  col <- outcomes[[name]]
  base <- raw[raw$visit == "baseline", c("participant", col)]
  names(base)[2] <- "baseline"
  d <- merge(raw[raw$visit %in% post, c("participant", "arm", "visit", col)], base, by = "participant")
  d$change <- d[[col]] - d$baseline
  d <- d[!is.na(d$change), ]
  d$arm <- factor(d$arm, levels = c("midazolam", "ketamine"))
  d$visit <- factor(d$visit, levels = post)
  d$participant <- factor(d$participant)
  d$vnum <- as.integer(d$visit)
  d <- d[order(d$participant, d$visit), ]

  gls_fit <- gls(change ~ baseline + arm * visit, data = d, method = "REML",
                 correlation = corSymm(form = ~ vnum | participant),
                 weights = varIdent(form = ~ 1 | visit),
                 control = glsControl(tolerance = 1e-10, msTol = 1e-10, returnObject = FALSE,
                                      msMaxIter = 500, maxIter = 500))
  em <- suppressMessages(emmeans(gls_fit, ~ arm | visit, mode = "appx-satterthwaite"))
  ct <- summary(contrast(em, method = "revpairwise"), infer = c(TRUE, TRUE))
  # treatment - reference at each visit as rows of L over the model's coefficients
  cn <- names(coef(gls_fit))
  L <- t(sapply(post, function(v) {
    l <- setNames(rep(0, length(cn)), cn); l["armketamine"] <- 1
    if (v != post[1]) l[paste0("armketamine:visit", v)] <- 1
    l
  }))
  ex <- exact_satterthwaite(gls_fit, d, L)
  stopifnot(max(abs(ex["estimate", ] - ct$estimate)) < 1e-6 * max(abs(ct$estimate)))
  tq <- qt(0.975, ex["df", ])
  rows[[length(rows) + 1]] <- data.frame(outcome = name, model = "mmrm", visit = as.character(ct$visit),
    estimate = ct$estimate, std_error = ct$SE, df = ex["df", ],
    ci_lower = ct$estimate - tq * ct$SE, ci_upper = ct$estimate + tq * ct$SE,
    p_value = 2 * pt(abs(ct$estimate / ct$SE), ex["df", ], lower.tail = FALSE),
    neg2_reml_loglik = -2 * as.numeric(logLik(gls_fit)), df_emmeans_appx = ct$df)

  lmm_fit <- lmer(change ~ baseline + arm * visit + (1 | participant), data = d, REML = TRUE,
                  control = lmerControl(optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14)))
  em <- emmeans(lmm_fit, ~ arm | visit, lmer.df = "satterthwaite")
  ct <- summary(contrast(em, method = "revpairwise"), infer = c(TRUE, TRUE))
  rows[[length(rows) + 1]] <- data.frame(outcome = name, model = "lmm", visit = as.character(ct$visit),
    estimate = ct$estimate, std_error = ct$SE, df = ct$df, ci_lower = ct$lower.CL,
    ci_upper = ct$upper.CL, p_value = ct$p.value, neg2_reml_loglik = -2 * as.numeric(logLik(lmm_fit)),
    df_emmeans_appx = NA)
}
out <- do.call(rbind, rows)
write.csv(out, out_path, row.names = FALSE)
cat(sprintf("R %s, nlme %s, lme4 %s, lmerTest %s, emmeans %s\n", getRversion(),
            packageVersion("nlme"), packageVersion("lme4"), packageVersion("lmerTest"),
            packageVersion("emmeans")))
