"""Primary contrasts of trials with three or more arms against R (nlme/lme4 + emmeans).

Reference: tests/reference/k_arm_contrasts.R -- nlme::gls (corSymm + varIdent, REML) and
lme4::lmer + lmerTest, emmeans contrasts by visit (``trt.vs.ctrl``; ``revpairwise`` for
all_pairs): estimate, SE, Satterthwaite df (exact for gls, computed in R as
tests/reference/demo_contrasts.R does; lmerTest's for lmer), unadjusted intervals and p-values;
Dunnett intervals and p-values from emmeans ``adjust = "mvt"`` (mvtnorm at its default accuracy,
Monte Carlo tolerance) and from mvtnorm at abseps 1e-6 (tight tolerance); Holm p-values with
Bonferroni intervals from emmeans ``adjust = "holm"``. The three-arm dose-ranging demo's R
output is committed (dose_ranging_r_contrasts.csv, made by the R script); the live tests rerun R
on it, on its all-pairs comparisons and on a generated four-arm trial (required under CI=true).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT

from pilottrial.config import Trial, load_config
from pilottrial.data import load_trial
from pilottrial.demo.dose_ranging import simulate_dose_ranging
from pilottrial.models.lmm import fit_outcome_lmm
from pilottrial.models.primary import (
    CONTRAST_COLUMNS,
    MULTI_ARM_COLUMNS,
    comparison_contrasts,
    fit_outcome_mmrm,
    primary_contrasts,
)

R_SCRIPT = REPO_ROOT / "tests" / "reference" / "k_arm_contrasts.R"
COMMITTED = REPO_ROOT / "tests" / "reference" / "dose_ranging_r_contrasts.csv"
CONFIG = REPO_ROOT / "config" / "dose_ranging.yaml"
DEMO_ARMS = ["midazolam", "ketamine-0.2", "ketamine-0.5"]
CLINICAL = {"CAPS-5": "caps5", "PCL-5": "pcl5", "MADRS": "madrs"}

# Tolerances. Estimates and SEs as the two-arm parity test (1e-4 relative); df within 1%
# (gls: against the exact Satterthwaite df computed in R); unadjusted intervals within 1e-3.
RTOL_ESTIMATE = 1e-4
RTOL_SE = 1e-4
RTOL_DF = 1e-2
ATOL_CI = 1e-3
ATOL_P = 1e-4
# Dunnett: against mvtnorm at abseps 1e-6 (our integration error is about 1e-5) ...
ATOL_P_DUNNETT = 2e-4
ATOL_CI_DUNNETT = 2e-3
# ... and against emmeans' default mvtnorm accuracy (abseps 1e-3, a Monte Carlo error): p within
# 3e-3, critical values within 0.01 (intervals within 0.01 standard errors).
ATOL_P_EMMEANS = 3e-3
CI_SE_EMMEANS = 1e-2


def _config(comparisons: str = "vs_reference", outcomes=None, data: Path | None = None, arms=None) -> dict:
    config = copy.deepcopy(load_config(CONFIG))
    config["data"]["path"] = str(data or (REPO_ROOT / "data/demo/ketamine_dose_ranging_demo.csv"))
    config["analysis"]["comparisons"] = comparisons
    if outcomes is not None:
        config["outcomes"] = [o for o in config["outcomes"] if o["name"] in outcomes]
    if arms is not None:
        config["arms"] = {"reference": arms[0], "treatments": list(arms[1:])}
    return config


def _ours(config: dict, adjustment: str) -> pd.DataFrame:
    """Contrasts of the clinical outcomes, MMRM and LMM, with the given arm adjustment (fits made once
    per config and reused by the three adjustments)."""
    key = json.dumps(config, sort_keys=True, default=str)
    if key not in _FITS:
        analysis = load_trial(config)
        names = [o["name"] for o in config["outcomes"] if o["name"] in CLINICAL]
        _FITS[key] = [(name, model, fitter(analysis, name, config)) for name in names
                      for model, fitter in (("mmrm", fit_outcome_mmrm), ("lmm", fit_outcome_lmm))]
    config = copy.deepcopy(config)
    config["analysis"]["arm_adjustment"] = adjustment
    trial = Trial.from_config(config)
    tables = [comparison_contrasts(fit, trial).assign(outcome=name, model=model) for name, model, fit in _FITS[key]]
    return pd.concat(tables, ignore_index=True)


_FITS: dict = {}


def _compare(ours: pd.DataFrame, dunnett: pd.DataFrame, holm: pd.DataFrame, none: pd.DataFrame,
             reference: pd.DataFrame) -> dict:
    keys = ["outcome", "model", "visit", "treatment"]
    merged = ours.merge(reference, on=keys, suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(reference) == len(ours)

    def rel(a, b):
        return float(((merged[a] - merged[b]).abs() / merged[b].abs()).max())

    def gap(a, b):
        return float((merged[a] - merged[b]).abs().max())

    worst = {"estimate": rel("estimate", "estimate_r"), "std_error": rel("std_error", "std_error_r"),
             "df": rel("df", "df_r"), "ci": max(gap("ci_lower", "ci_lower_r"), gap("ci_upper", "ci_upper_r")),
             "p": gap("p_value", "p_value_r")}
    assert worst["estimate"] < RTOL_ESTIMATE, worst
    assert worst["std_error"] < RTOL_SE, worst
    assert worst["df"] < RTOL_DF, worst
    assert worst["ci"] < ATOL_CI, worst
    assert worst["p"] < ATOL_P, worst

    for table, suffix in ((dunnett, "dunnett"), (holm, "holm"), (none, "none")):
        m = table.merge(reference, on=keys, suffixes=("", "_r"), validate="one_to_one")
        if suffix == "none":
            targets = {"p_value_adjusted": m["p_value_r"], "ci_lower_adjusted": m["ci_lower_r"],
                       "ci_upper_adjusted": m["ci_upper_r"]}
            tol_p, tol_ci = ATOL_P, ATOL_CI
        elif suffix == "holm":
            targets = {"p_value_adjusted": m["p_value_holm"], "ci_lower_adjusted": m["ci_lower_holm"],
                       "ci_upper_adjusted": m["ci_upper_holm"]}
            tol_p, tol_ci = ATOL_P, ATOL_CI
        else:
            targets = {"p_value_adjusted": m["p_value_precise"], "ci_lower_adjusted": m["ci_lower_precise"],
                       "ci_upper_adjusted": m["ci_upper_precise"]}
            tol_p, tol_ci = ATOL_P_DUNNETT, ATOL_CI_DUNNETT
            emm_p = float((m["p_value_adjusted"] - m["p_value_mvt"]).abs().max())
            emm_ci = float(max(((m["ci_lower_adjusted"] - m["ci_lower_mvt"]).abs() / m["std_error"]).max(),
                               ((m["ci_upper_adjusted"] - m["ci_upper_mvt"]).abs() / m["std_error"]).max()))
            worst["dunnett_vs_emmeans_p"], worst["dunnett_vs_emmeans_ci_per_se"] = emm_p, emm_ci
            assert emm_p < ATOL_P_EMMEANS, worst
            assert emm_ci < CI_SE_EMMEANS, worst
        p_gap = float((m["p_value_adjusted"] - targets["p_value_adjusted"]).abs().max())
        ci_gap = float(max((m[c] - targets[c]).abs().max() for c in ("ci_lower_adjusted", "ci_upper_adjusted")))
        worst[f"{suffix}_p"], worst[f"{suffix}_ci"] = p_gap, ci_gap
        assert p_gap < tol_p, worst
        assert ci_gap < tol_ci, worst
    return worst


def _check(config: dict, reference: pd.DataFrame) -> dict:
    ours = {a: _ours(config, a) for a in ("dunnett", "holm", "none")}
    return _compare(ours["none"], ours["dunnett"], ours["holm"], ours["none"], reference)


def _run_r(tmp_path: Path, data: Path, arms, mode: str, outcomes) -> pd.DataFrame:
    rscript = shutil.which("Rscript")
    if rscript is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Rscript not found (CI=true: R is required for the parity tests)")
        pytest.skip("Rscript not found: install r-base-core r-cran-nlme r-cran-lme4 r-cran-lmertest "
                    "r-cran-emmeans r-cran-mvtnorm r-cran-numderiv")
    out = tmp_path / f"r_{mode}.csv"
    spec = ",".join(f"{name}={CLINICAL[name]}" for name in outcomes)
    run = subprocess.run([rscript, str(R_SCRIPT), str(data), str(out), ",".join(arms), mode, spec],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    return pd.read_csv(out)


# ---- layout of contrasts.csv ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_k_primary():
    config = _config()
    return primary_contrasts(load_trial(config), config)


def test_layout_of_three_arm_contrasts(demo_k_primary):
    contrasts, models = demo_k_primary
    assert list(contrasts.columns) == CONTRAST_COLUMNS + MULTI_ARM_COLUMNS
    # rows of a comparison together, in trial.comparisons order; inside, the two-arm order
    assert contrasts["treatment"].tolist() == ["ketamine-0.2"] * 20 + ["ketamine-0.5"] * 20
    first = contrasts[contrasts["treatment"] == "ketamine-0.2"][["outcome", "model", "visit"]]
    second = contrasts[contrasts["treatment"] == "ketamine-0.5"][["outcome", "model", "visit"]]
    pd.testing.assert_frame_equal(first.reset_index(drop=True), second.reset_index(drop=True))
    assert models[["outcome", "model"]].value_counts().eq(1).all()  # one row per model, not per comparison
    assert (models["n_participants"].iloc[:6] == 40).all()


def test_primary_contrasts_equal_comparison_contrasts(demo_k_primary):
    contrasts, _ = demo_k_primary
    ours = _ours(_config(), "dunnett")
    keys = ["outcome", "model", "visit", "treatment"]
    merged = contrasts.merge(ours, on=keys, suffixes=("", "_c"))
    assert len(merged) == len(ours) == 36
    for column in ("estimate", "std_error", "df", "ci_lower_adjusted", "p_value_adjusted"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_c"], rtol=1e-12)


def test_adjusted_intervals_are_wider_and_p_values_larger(demo_k_primary):
    contrasts, _ = demo_k_primary
    assert (contrasts["ci_lower_adjusted"] < contrasts["ci_lower"]).all()
    assert (contrasts["ci_upper_adjusted"] > contrasts["ci_upper"]).all()
    assert (contrasts["p_value_adjusted"] >= contrasts["p_value"]).all()
    # Dunnett lies between the unadjusted and the Bonferroni interval
    bonferroni = _ours(_config(), "holm")
    merged = contrasts.merge(bonferroni, on=["outcome", "model", "visit", "treatment"], suffixes=("", "_b"))
    assert (merged["ci_lower_adjusted"] > merged["ci_lower_adjusted_b"]).all()


# ---- against R -------------------------------------------------------------------------------------


def test_three_arm_demo_matches_committed_r_reference():
    worst = _check(_config(), pd.read_csv(COMMITTED))
    print("three arms vs committed R:", worst)


@pytest.mark.r
def test_three_arm_demo_matches_live_r(tmp_path):
    reference = _run_r(tmp_path, REPO_ROOT / "data/demo/ketamine_dose_ranging_demo.csv", DEMO_ARMS,
                       "vs_reference", list(CLINICAL))
    worst = _check(_config(), reference)
    print("three arms vs live R:", worst)


@pytest.mark.r
def test_three_arm_all_pairs_match_live_r(tmp_path):
    outcomes = ["CAPS-5", "MADRS"]
    reference = _run_r(tmp_path, REPO_ROOT / "data/demo/ketamine_dose_ranging_demo.csv", DEMO_ARMS,
                       "all_pairs", outcomes)
    assert set(reference["treatment"]) == {"ketamine-0.2", "ketamine-0.5", "ketamine-0.5 vs ketamine-0.2"}
    worst = _check(_config("all_pairs", outcomes), reference)
    print("three arms, all pairs vs live R:", worst)


@pytest.fixture(scope="module")
def four_arm_data(tmp_path_factory) -> Path:
    """A generated four-arm trial: the dose-ranging model with 11 per arm (seed 11), half of the
    ketamine-0.5 arm relabelled ``esketamine`` and 11 more midazolam participants from seed 12."""
    trial = simulate_dose_ranging(seed=11, n_per_arm=11)["trial"]
    ids = sorted(trial.loc[trial["arm"] == "ketamine-0.5", "participant"].unique())
    trial.loc[trial["participant"].isin(ids[::2]), "arm"] = "esketamine"
    path = tmp_path_factory.mktemp("four") / "four_arms.csv"
    trial.to_csv(path, index=False)
    return path


@pytest.mark.r
@pytest.mark.parametrize("mode", ["vs_reference", "all_pairs"])
def test_four_arm_trial_matches_live_r(tmp_path, four_arm_data, mode):
    arms = ["midazolam", "ketamine-0.2", "ketamine-0.5", "esketamine"]
    outcomes = ["CAPS-5", "PCL-5"]
    reference = _run_r(tmp_path, four_arm_data, arms, mode, outcomes)
    assert reference["treatment"].nunique() == (3 if mode == "vs_reference" else 6)
    worst = _check(_config(mode, outcomes, four_arm_data, arms), reference)
    print(f"four arms, {mode} vs live R:", worst)
