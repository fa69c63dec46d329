"""Secondary analyses of trials where something cannot be estimated: rows of NaN whose text column
says "not estimable: <reason>", never an exception (issue 14, item 2).

Tables with a note column of their own (responders' ``or_note``/``nnt_note``, the posterior's
``approximation``) use it; the others get a ``note`` column, last, only when a row is not
estimable, so that the demo's tables keep their columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tiny_trials import QOL, ROI, SYMPTOMS, tiny_trial

from pilottrial.analyses.bayes import posterior_table
from pilottrial.analyses.common import not_estimable, not_estimable_lines, reason_of, with_note
from pilottrial.analyses.effects import EFFECT_COLUMNS, effect_sizes
from pilottrial.analyses.estimands import ESTIMAND_COLUMNS, estimand_table
from pilottrial.analyses.mechanism import MECHANISM_COLUMNS, mechanism_table
from pilottrial.analyses.multiplicity import ADJUSTED_COLUMNS, adjust_contrasts
from pilottrial.analyses.responders import responder_table
from pilottrial.models.primary import CONTRAST_COLUMNS


def _contrasts(rows) -> pd.DataFrame:
    """A contrasts table (CONTRAST_COLUMNS) from (outcome, visit, estimate, se, df, p) tuples."""
    table = pd.DataFrame([{"outcome": o, "model": "mmrm", "visit": v, "estimate": e, "std_error": s, "df": d,
                           "ci_lower": e - 2 * s, "ci_upper": e + 2 * s, "p_value": p}
                          for o, v, e, s, d, p in rows], columns=CONTRAST_COLUMNS)
    return table.astype({c: float for c in CONTRAST_COLUMNS[3:]})


@pytest.fixture(scope="module")
def baseline_only(tmp_path_factory):
    """3 per arm; quality of life scored at baseline only."""
    return tiny_trial(tmp_path_factory.mktemp("baseline_only"), n_per_arm=3)


# ---- the convention -----------------------------------------------------------------------------
def test_not_estimable_note_is_one_line_with_one_prefix():
    assert not_estimable("too few\n  participants") == "not estimable: too few participants"
    assert not_estimable("not estimable: twice") == "not estimable: twice"
    assert len(not_estimable("x" * 1000)) == 300
    assert reason_of(not_estimable("no data at 30d")) == "no data at 30d"


def test_a_note_column_is_added_only_when_a_row_is_not_estimable():
    table = pd.DataFrame({"outcome": ["A", "B"], "x": [1.0, np.nan]})
    assert list(with_note(table, ["", ""]).columns) == ["outcome", "x"]
    noted = with_note(table, ["", not_estimable("no data")])
    assert list(noted.columns) == ["outcome", "x", "note"]
    assert not_estimable_lines(noted, "t") == ["t: B: not estimable: no data"]


def test_demo_tables_keep_their_columns(demo_analysis, demo_trial, demo_primary):
    contrasts = demo_primary[0]
    assert list(effect_sizes(demo_analysis, contrasts, demo_trial).columns) == EFFECT_COLUMNS
    assert list(adjust_contrasts(contrasts, demo_trial).columns) == ADJUSTED_COLUMNS
    assert list(mechanism_table(demo_analysis, demo_trial).columns) == MECHANISM_COLUMNS
    assert list(estimand_table(demo_trial, demo_analysis).columns) == ESTIMAND_COLUMNS


# ---- effect sizes ---------------------------------------------------------------------------------
def test_effect_sizes_of_an_outcome_without_follow_up_are_rows_that_say_why(baseline_only):
    config, analysis = baseline_only
    contrasts = _contrasts([(SYMPTOMS, "v1", -8.0, 3.0, 4.0, 0.05), (SYMPTOMS, "v2", -10.0, 3.5, 4.0, 0.04)])
    table = effect_sizes(analysis, contrasts, config)
    assert list(table.columns) == EFFECT_COLUMNS + ["note"]
    qol = table[table["outcome"] == QOL]
    assert list(qol["visit"]) == ["v1", "v1", "v2", "v2"]
    assert qol[["sd", "estimate", "ci_lower", "ci_upper"]].isna().all().all()
    assert (qol["note"] == f"not estimable: {QOL} has no post-baseline score").all()
    symptoms = table[table["outcome"] == SYMPTOMS]
    assert symptoms["estimate"].notna().all() and (symptoms["note"] == "").all()


def test_effect_sizes_without_an_mmrm_contrast_or_with_one_arm_empty(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=3, empty_arm_at=("placebo", "v2"))
    table = effect_sizes(analysis, _contrasts([(SYMPTOMS, "v1", -8.0, 3.0, 4.0, 0.05)]), config)
    by = table[table["outcome"] == SYMPTOMS].set_index(["visit", "method"])
    assert by.loc[("v2", "mmrm_over_baseline_sd"), "note"] == f"not estimable: no MMRM contrast of {SYMPTOMS} at v2"
    observed = by.loc[("v2", "observed_change")]
    assert np.isnan(observed["estimate"]) and observed["n_reference"] == 0
    assert observed["note"].startswith("not estimable: fewer than two participants with a change from baseline")
    assert by.loc[("v1", "observed_change"), "note"] == ""


# ---- responders -----------------------------------------------------------------------------------
def test_responders_when_everybody_responds(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=3, all_respond=True)
    table = responder_table(analysis, config)
    response = table[(table["outcome"] == SYMPTOMS) & (table["definition"] == "response")]
    assert (response["n_treatment"] == response["N_treatment"]).all()
    assert (response["risk_difference"] == 0).all()
    assert response["odds_ratio"].isna().all()
    assert (response["or_note"] == "not estimable: no responder, or all responders, in both arms").all()


def test_responders_without_follow_up_or_with_an_arm_empty_at_the_key_visit(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=3, empty_arm_at=("drug", "v2"))
    table = responder_table(analysis, config).set_index(["outcome", "visit", "definition"])
    empty = table.loc[(SYMPTOMS, "v2", "response")]
    assert (empty["N_treatment"], empty["missing_treatment"], empty["N_reference"]) == (0, 3, 3)
    assert np.isnan(empty["risk_difference"]) and np.isnan(empty["fisher_p"])
    assert empty["or_note"] == empty["nnt_note"] == "not estimable: no participant of the drug arm has a score at v2"
    qol = table.loc[(QOL, "v1", "response")]
    assert (qol["N_treatment"], qol["N_reference"]) == (0, 0)
    assert qol["or_note"] == "not estimable: no participant of either arm has a score at v1"


# ---- Bayesian reading -----------------------------------------------------------------------------
def test_posterior_of_an_outcome_without_contrasts_has_rows_that_say_why(baseline_only):
    config, _ = baseline_only
    contrasts = _contrasts([(SYMPTOMS, "v1", -8.0, 3.0, 4.0, 0.05), (SYMPTOMS, "v2", np.nan, np.nan, np.nan,
                                                                        np.nan)])
    table = posterior_table(contrasts, config).set_index(["outcome", "visit", "prior"])
    assert len(table) == 8
    assert np.isfinite(table.loc[(SYMPTOMS, "v1", "flat"), "prob_benefit"])
    nan_contrast = table.loc[(SYMPTOMS, "v2", "sceptical")]
    assert np.isnan(nan_contrast["prob_benefit"])
    assert nan_contrast["approximation"] == "not estimable: the MMRM contrast has no estimate, SE or df"
    for prior in ("flat", "sceptical"):
        row = table.loc[(QOL, "v2", prior)]
        assert np.isnan(row["posterior_mean"])
        assert row["approximation"] == f"not estimable: no MMRM contrast of {QOL} at v2"


def test_posterior_reason_comes_from_the_contrasts_note(baseline_only):
    config, _ = baseline_only
    contrasts = _contrasts([(SYMPTOMS, "v1", np.nan, np.nan, np.nan, np.nan)]).assign(
        note=not_estimable("the MMRM does not converge"))
    row = posterior_table(contrasts, config).iloc[0]
    assert row["approximation"] == ("not estimable: the MMRM contrast has no estimate, SE or df "
                                    "(the MMRM does not converge)")


# ---- multiplicity ---------------------------------------------------------------------------------
def test_holm_leaves_out_nan_p_values_and_says_why(tmp_path):
    config, _ = tiny_trial(tmp_path, n_per_arm=3, qol_follow_up=True)
    config["outcomes"].append({"name": "Sleep", "column": "qol", "better": "lower", "mcid": 3})
    contrasts = _contrasts([(SYMPTOMS, "v2", -8.0, 3.0, 4.0, 0.01), (QOL, "v2", 5.0, 2.0, 4.0, 0.04),
                            ("Sleep", "v2", np.nan, np.nan, np.nan, np.nan)])
    table = adjust_contrasts(contrasts, config)
    by = table.set_index(["outcome", "visit"])
    assert by.loc[(QOL, "v2"), "p_adjusted"] == pytest.approx(0.04)  # a family of one: Sleep has no p
    assert np.isnan(by.loc[("Sleep", "v2"), "p_adjusted"])
    assert by.loc[("Sleep", "v2"), "note"] == "not estimable: the MMRM contrast of Sleep at v2 has no p-value"
    assert by.loc[(SYMPTOMS, "v2"), "note"] == ""
    # an outcome measured at some key visits has rows at those only (no note rows at the others)
    assert (QOL, "v1") not in by.index
    assert list(table.columns) == ADJUSTED_COLUMNS + ["note"]


def test_multiplicity_without_any_contrast(baseline_only):
    config, _ = baseline_only
    table = adjust_contrasts(_contrasts([]), config)
    assert len(table) == 4 and table["p_adjusted"].isna().all()
    assert table["note"].str.startswith("not estimable: no MMRM contrast").all()


# ---- mechanism ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, n_per_arm, reason", [
    ("constant", 4, f"not estimable: the change in {ROI} is the same for every participant"),
    ("varying", 2, "not estimable: 2 participant(s) with both changes; at least 3 are needed"),
])
def test_mechanism_correlations_that_cannot_be_estimated(tmp_path, kind, n_per_arm, reason):
    config, analysis = tiny_trial(tmp_path, n_per_arm=n_per_arm, mechanism=kind)
    table = mechanism_table(analysis, config).set_index("arm")
    assert np.isnan(table.loc["placebo", "pearson_r"]) and table.loc["placebo", "note"] == reason
    if kind == "varying":  # over both arms there are 4 pairs
        assert np.isfinite(table.loc["all", "pearson_r"]) and table.loc["all", "note"] == ""


def test_mechanism_outcome_at_baseline_only_has_one_row(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=3, mechanism="varying")
    analysis = analysis.copy()
    analysis.loc[(analysis["outcome"] == ROI) & (analysis["visit"] != "baseline"), ["score", "change"]] = np.nan
    table = mechanism_table(analysis, config)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["arm"], row["visit"], row["n"]) == ("all", "", 0)
    assert row["note"] == f"not estimable: {ROI} has no change from baseline at any post-baseline visit"


# ---- estimands ------------------------------------------------------------------------------------
def test_estimand_of_an_outcome_without_follow_up_says_it_cannot_be_estimated(baseline_only):
    config, analysis = baseline_only
    table = estimand_table(config, analysis).set_index("outcome")
    assert table.loc[QOL, "note"] == f"not estimable: {QOL} has no post-baseline score"
    assert table.loc[SYMPTOMS, "note"] == ""
    assert "note" not in estimand_table(config).columns  # without the data nothing is known
