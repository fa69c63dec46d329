"""MMRM and LMM contrasts on the demo trial against R.

Reference: tests/reference/demo_contrasts.R -- nlme::gls (corSymm + varIdent, REML) with
emmeans and an exact Satterthwaite df computed in R (numDeriv), and lme4::lmer + lmerTest with
emmeans (Satterthwaite). Expected values are committed (demo_r_contrasts.csv, `make r-reference`);
the live test reruns R when present (required under CI=true).
"""

import os
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import REPO_ROOT

# Tolerances from the issue: estimates and SEs within 1e-4 relative, df within 1%.
RTOL_ESTIMATE = 1e-4
RTOL_SE = 1e-4
RTOL_DF = 1e-2
R_SCRIPT = REPO_ROOT / "tests" / "reference" / "demo_contrasts.R"
COMMITTED = REPO_ROOT / "tests" / "reference" / "demo_r_contrasts.csv"


@pytest.fixture(scope="module")
def ours(demo_primary):
    return demo_primary


def compare(ours_table, reference):
    merged = ours_table.merge(reference, on=["outcome", "model", "visit"], suffixes=("", "_r"))
    assert len(merged) == len(reference) == 18
    rel = lambda a, b: (merged[a] - merged[b]).abs() / merged[b].abs()
    worst = {
        "estimate": rel("estimate", "estimate_r").max(),
        "std_error": rel("std_error", "std_error_r").max(),
        "df": rel("df", "df_r").max(),
    }
    assert worst["estimate"] < RTOL_ESTIMATE, worst
    assert worst["std_error"] < RTOL_SE, worst
    assert worst["df"] < RTOL_DF, worst
    # the t interval follows from estimate, SE and df
    assert (merged["ci_lower"] - merged["ci_lower_r"]).abs().max() < 1e-3
    return worst


def test_demo_contrasts_match_committed_r_reference(ours):
    contrasts, _ = ours
    compare(contrasts, pd.read_csv(COMMITTED))


def test_demo_reml_loglik_matches_r(ours):
    _, models = ours
    reference = pd.read_csv(COMMITTED).drop_duplicates(["outcome", "model"])
    merged = models.merge(reference, on=["outcome", "model"])
    assert ((merged["neg2_reml_loglik_x"] if "neg2_reml_loglik_x" in merged else merged["neg2_reml_loglik"])
            .sub(merged.filter(like="neg2_reml_loglik").iloc[:, -1]).abs() < 1e-4).all()


def test_emmeans_approximate_gls_df_is_close_but_not_exact(ours):
    """Why the R script computes its own Satterthwaite df for gls: emmeans' appx differs."""
    reference = pd.read_csv(COMMITTED)
    mmrm = reference[reference.model == "mmrm"]
    gap = ((mmrm.df - mmrm.df_emmeans_appx).abs() / mmrm.df).max()
    assert 1e-3 < gap < 0.1


@pytest.mark.r
def test_demo_contrasts_match_live_r(ours, tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Rscript not found (CI=true: R is required for the parity tests)")
        pytest.skip("Rscript not found: install r-base-core r-cran-nlme r-cran-lme4 r-cran-lmertest r-cran-emmeans")
    out = tmp_path / "live.csv"
    run = subprocess.run([rscript, str(R_SCRIPT), str(REPO_ROOT / "data/demo/ketamine_ptsd_demo.csv"), str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    contrasts, _ = ours
    worst = compare(contrasts, pd.read_csv(out))
    print("worst relative differences vs live R:", worst)
