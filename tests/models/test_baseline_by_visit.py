"""``analysis.baseline_by_visit: true``: the primary model change ~ baseline * visit + arm * visit
(SAS's and R rbmi's published MMRM), checked against R nlme::gls (corSymm + varIdent, REML) on the
demo trial: treatment contrasts at every visit, estimates and SEs within 1e-6 relative."""

import copy
import subprocess

import pandas as pd
import pytest
from conftest import REPO_ROOT, require_r

from pilottrial.models.frame import model_formula, model_frame
from pilottrial.models.primary import fit_outcome_mmrm, primary_contrasts

RTOL = 1e-6
OUTCOMES = {"CAPS-5": "caps5", "PCL-5": "pcl5", "MADRS": "madrs"}

R_SCRIPT = r"""
suppressPackageStartupMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
raw <- read.csv(args[1], stringsAsFactors = FALSE)
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
  d$vnum <- as.integer(d$visit)
  d <- d[order(d$participant, d$visit), ]
  # nlme's two optimisers stop at slightly different points (1e-8 in -2 REML log-likelihood):
  # keep the better optimum
  fits <- lapply(c("nlminb", "optim"), function(opt)
    gls(change ~ baseline * visit + arm * visit, data = d, method = "REML",
        correlation = corSymm(form = ~ vnum | participant), weights = varIdent(form = ~ 1 | visit),
        control = glsControl(tolerance = 1e-12, msTol = 1e-12, msMaxIter = 1000, maxIter = 1000, opt = opt)))
  fit <- fits[[which.max(sapply(fits, logLik))]]
  cn <- names(coef(fit))
  for (v in post) {
    l <- setNames(rep(0, length(cn)), cn); l["armketamine"] <- 1
    if (v != post[1]) l[paste0("visit", v, ":armketamine")] <- 1
    rows[[length(rows) + 1]] <- data.frame(outcome = name, visit = v, estimate = sum(l * coef(fit)),
      std_error = sqrt(as.numeric(t(l) %*% vcov(fit) %*% l)), neg2_reml_loglik = -2 * as.numeric(logLik(fit)))
  }
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
"""


@pytest.fixture(scope="module")
def demo(demo_config, demo_analysis):
    """The demo's efficacy outcomes (session fixtures, not refitted here), as configured and with
    ``baseline_by_visit: true``."""
    config = copy.deepcopy(demo_config)
    config["outcomes"] = [o for o in config["outcomes"] if o["name"] in OUTCOMES]
    by_visit = copy.deepcopy(config)
    by_visit["analysis"]["baseline_by_visit"] = True
    return demo_analysis[demo_analysis["outcome"].isin(list(OUTCOMES))].copy(), config, by_visit


def test_baseline_by_visit_formula_has_a_baseline_slope_per_visit(demo):
    analysis, config, by_visit = demo
    frame = model_frame(analysis, "CAPS-5", by_visit)
    assert model_formula(frame, by_visit) == "change ~ baseline * visit + arm * visit"
    assert model_formula(frame, config) == "change ~ baseline + arm * visit"
    fit = fit_outcome_mmrm(analysis, "CAPS-5", by_visit)
    assert {"baseline:visit[T.7d]", "baseline:visit[T.30d]"} <= set(fit.terms)
    # one post-baseline visit: one slope (the interaction is not identified)
    single = frame[frame["visit"] == "30d"].copy()
    single["visit"] = single["visit"].cat.remove_unused_categories()
    assert model_formula(single, by_visit) == "change ~ baseline + arm"


@pytest.mark.r
def test_baseline_by_visit_contrasts_match_nlme_gls(demo, tmp_path):
    rscript = require_r("nlme")
    analysis, _, by_visit = demo
    script, out = tmp_path / "by_visit.R", tmp_path / "r.csv"
    script.write_text(R_SCRIPT)
    run = subprocess.run([rscript, str(script), str(REPO_ROOT / "data/demo/ketamine_ptsd_demo.csv"), str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    reference = pd.read_csv(out)
    contrasts, models = primary_contrasts(analysis, by_visit)
    ours = contrasts[contrasts["model"] == "mmrm"].merge(reference, on=["outcome", "visit"], suffixes=("", "_r"))
    assert len(ours) == len(reference) == 9
    worst = {k: ((ours[k] - ours[f"{k}_r"]).abs() / ours[f"{k}_r"].abs()).max() for k in ("estimate", "std_error")}
    print("worst relative differences vs nlme::gls:", worst)
    assert worst["estimate"] < RTOL and worst["std_error"] < RTOL, worst
    loglik = models[models["model"] == "mmrm"].merge(reference.drop_duplicates("outcome"), on="outcome")
    assert ((loglik["neg2_reml_loglik_x"] - loglik["neg2_reml_loglik_y"]).abs() < 1e-6).all()
