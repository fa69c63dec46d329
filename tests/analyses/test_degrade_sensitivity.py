"""Sensitivity analyses on trials too small or too incomplete for them: every analysis keeps its
rows, with NaN and "not estimable: <reason>" in ``note`` (issue 14, item 2); and a
randomization test with fewer distinct assignments than draws enumerates them all (exact).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from tiny_trials import QOL, SYMPTOMS, tiny_trial

from pilottrial.analyses.sensitivity import (
    SENSITIVITY_COLUMNS,
    ancova_complete_case,
    gee_bias_reduced,
    mixed_anova_complete_case,
    mmrm_structures,
    randomization_test,
    sensitivity_analyses,
)
from pilottrial.analyses.sensitivity import randomization as randomization_module
from pilottrial.analyses.sensitivity.randomization import NULL_FORMULA, _ArmGLS, _randomized
from pilottrial.config import Trial
from pilottrial.models.frame import model_frame
from pilottrial.models.mmrm import MMRMError, fit_mmrm

ANALYSES = ["ancova_complete_case", "mixed_anova_complete_case", "gee_bias_reduced", "randomization_test",
            "mann_whitney", "lmm_random_intercept", "mmrm_cs", "mmrm_ar1", "mmrm_toeph"]


@pytest.fixture(scope="module")
def baseline_only(tmp_path_factory):
    config, analysis = tiny_trial(tmp_path_factory.mktemp("baseline_only"), n_per_arm=3)
    return config, analysis, sensitivity_analyses(analysis, config)


@pytest.fixture(scope="module")
def arm_missing(tmp_path_factory):
    """Nobody of the reference arm is observed at the last visit."""
    config, analysis = tiny_trial(tmp_path_factory.mktemp("arm_missing"), n_per_arm=4,
                                  empty_arm_at=("placebo", "v2"))
    return config, analysis, sensitivity_analyses(analysis, config)


def _check_convention(table: pd.DataFrame) -> None:
    """Every row has its numbers or a not-estimable note (the rank method has no SE or df)."""
    assert list(table.columns) == SENSITIVITY_COLUMNS
    numbers = ["estimate", "ci_lower", "ci_upper", "p_value"]
    empty = table[numbers].isna().any(axis=1)
    assert table.loc[empty, "note"].str.startswith("not estimable: ").all()
    assert not table.loc[~empty, "note"].str.startswith("not estimable").any()


def test_an_outcome_without_follow_up_has_every_analysis_with_its_reason(baseline_only):
    _, _, table = baseline_only
    _check_convention(table)
    qol = table[table["outcome"] == QOL]
    assert list(dict.fromkeys(qol["analysis"])) == ANALYSES
    assert len(qol) == len(ANALYSES) * 2 and qol["estimate"].isna().all()
    whole = f"not estimable: {QOL} has no change from baseline at any post-baseline visit"
    for analysis in ("mixed_anova_complete_case", "gee_bias_reduced", "randomization_test",
                     "lmm_random_intercept", "mmrm_cs", "mmrm_ar1", "mmrm_toeph"):
        assert (qol.loc[qol["analysis"] == analysis, "note"] == whole).all(), analysis
    for analysis in ("ancova_complete_case", "mann_whitney"):
        notes = qol.loc[qol["analysis"] == analysis, "note"].tolist()
        assert notes == [f"not estimable: {QOL} has no change from baseline at {v}" for v in ("v1", "v2")]


def test_an_arm_without_data_at_a_visit_never_gives_a_number_there(arm_missing):
    _, _, table = arm_missing
    _check_convention(table)
    at = table[(table["outcome"] == SYMPTOMS) & (table["visit"] == "v2")].set_index("analysis")
    assert at["estimate"].isna().all(), at.loc[at["estimate"].notna(), "note"]
    assert at.loc["ancova_complete_case", "note"] == ("not estimable: an arm has no participant observed at v2 "
                                                      "(0 placebo, 4 drug)")
    assert at.loc["gee_bias_reduced", "note"].startswith("not estimable: GEE: the design is rank deficient")
    assert at.loc["mixed_anova_complete_case", "note"].startswith(
        "not estimable: fewer than two participants complete at every visit in an arm (0 placebo, 4 drug)")
    assert at.loc["mmrm_cs", "note"].startswith("not estimable: the design is rank deficient")
    # the visit with both arms still has the analyses that need only that visit
    v1 = table[(table["outcome"] == SYMPTOMS) & (table["visit"] == "v1")].set_index("analysis")
    assert np.isfinite(v1.loc["ancova_complete_case", "estimate"]) and np.isfinite(v1.loc["mann_whitney",
                                                                                          "estimate"])


def _frame(config, analysis, outcome=SYMPTOMS):
    return model_frame(analysis, outcome, config)


def test_ancova_with_too_few_participants_at_a_visit(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=2, missing=1.0)  # one participant per arm observed
    row = ancova_complete_case(_frame(config, analysis), "placebo", "drug", visits=["v1"]).iloc[0]
    assert np.isnan(row["estimate"])
    assert row["note"] == "not estimable: both arms and at least 4 participants are needed at v1"


def test_gee_whose_correlation_estimate_is_not_a_correlation_says_so(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=3, qol_follow_up=True)
    table = gee_bias_reduced(_frame(config, analysis, QOL), "placebo", "drug")
    assert table["estimate"].notna().all()  # the estimating equations stay unbiased
    assert table["note"].str.match(r"exchangeable working correlation [0-9.]+ \(outside the range of a "
                                   r"correlation of 2 visits, -1.000 to 1: too few participants").all()


def test_mixed_anova_with_one_complete_participant_in_an_arm(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=2)
    analysis = analysis.copy()
    drop = (analysis["participant"] == "p01") & (analysis["visit"] == "v2") & (analysis["outcome"] == SYMPTOMS)
    analysis.loc[drop, ["score", "change"]] = np.nan
    table = mixed_anova_complete_case(_frame(config, analysis), "placebo", "drug")
    assert (table["note"] == "not estimable: fewer than two participants complete at every visit in an arm "
                             "(1 placebo, 2 drug)").all()


def test_structures_that_do_not_fit_give_rows_with_the_reason(tmp_path, monkeypatch):
    config, analysis = tiny_trial(tmp_path, n_per_arm=4)
    from pilottrial.analyses.sensitivity import other_models

    def fit_or_fail(frame, formula, **options):
        if options["covariance"] == "ar1":
            raise MMRMError("ar1: the optimizer did not converge")
        return fit_mmrm(frame, formula, **options)

    monkeypatch.setattr(other_models, "fit_mmrm", fit_or_fail)
    table = mmrm_structures(_frame(config, analysis), "placebo", "drug", structures=["cs", "ar1"])
    assert table.loc[table["analysis"] == "mmrm_cs", "estimate"].notna().all()
    ar1 = table[table["analysis"] == "mmrm_ar1"]
    assert ar1["estimate"].isna().all()
    assert (ar1["note"] == "not estimable: ar1: the optimizer did not converge").all()


def test_randomization_test_whose_null_model_does_not_fit(tmp_path, monkeypatch):
    config, analysis = tiny_trial(tmp_path, n_per_arm=4)

    def fit_or_fail(frame, formula, **options):
        if formula == NULL_FORMULA:
            raise MMRMError("no covariance structure converged")
        return fit_mmrm(frame, formula, **options)

    monkeypatch.setattr(randomization_module, "fit_mmrm", fit_or_fail)
    table = randomization_test(_frame(config, analysis), "placebo", "drug", draws=1000, seed=1)
    assert table["p_value"].isna().all() and table["estimate"].isna().all()
    assert (table["note"] == "not estimable: the randomization test cannot run: the MMRM under the null "
                             "(change ~ baseline + visit) does not fit (no covariance structure converged)").all()


def test_randomization_test_enumerates_every_assignment_when_there_are_fewer_than_the_draws(tmp_path):
    """3 per arm: C(6, 3) = 20 assignments < 1000 draws. The p-value is the exact one, counted
    here by brute force over the same statistic."""
    config, analysis = tiny_trial(tmp_path, n_per_arm=3)
    frame = _frame(config, analysis)
    table = randomization_test(frame, "placebo", "drug", draws=1000, seed=7, outcome=SYMPTOMS)
    assert table["note"].str.startswith("exact re-randomization p (all 20 assignments").all()
    randomized = _randomized(frame)
    labels = randomized["participant"].to_numpy()
    observed = (randomized["arm"].astype(str).to_numpy() == "drug").astype(float)
    null = fit_mmrm(frame, NULL_FORMULA, subject="participant", visit="visit", covariance="us", method="reml",
                    df_method="residual")
    gls = _ArmGLS(frame, labels, null.design(frame), null.sigmas[0])
    t_obs = gls.statistics(observed[None, :])[1][0]
    everyone = np.zeros((math.comb(6, 3), 6))
    for k, treated in enumerate(itertools.combinations(range(6), 3)):
        everyone[k, list(treated)] = 1.0
    t_all = gls.statistics(everyone)[1]
    exact = (np.abs(t_all) >= np.abs(t_obs) * (1 - 1e-10)).mean(axis=0)
    assert table["p_value"].to_numpy() == pytest.approx(exact, abs=1e-12)
    assert (table["p_value"] * 20).round(9).tolist() == (table["p_value"] * 20).round().tolist()
    # no random numbers are used: the seed does not matter
    other = randomization_test(frame, "placebo", "drug", draws=1000, seed=8, outcome=SYMPTOMS)
    assert other["p_value"].tolist() == table["p_value"].tolist()


def test_monte_carlo_when_there_are_more_assignments_than_draws(demo_analysis, demo_config):
    trial = Trial.from_config(demo_config)
    frame = model_frame(demo_analysis, "CAPS-5", demo_config)
    table = randomization_test(frame, trial.reference, trial.treatment, draws=1000, seed=1, outcome="CAPS-5",
                               visits=["30d"])
    assert table["note"].iloc[0].startswith("Monte Carlo re-randomization p (1000 permutations")
