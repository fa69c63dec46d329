"""Harms and feasibility of trials where a measure cannot be computed: NaN with "not estimable:
<reason>" in ``note``, never an exception (issue 14, item 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tiny_trials import tiny_trial

from pilottrial.analyses.feasibility import OVERALL, feasibility_table, progression_table
from pilottrial.analyses.harms import (
    ADVERSE_EVENT_COLUMNS,
    DISSOCIATION_COLUMNS,
    adverse_event_table,
    dissociation_table,
)

PARTICIPANTS = pd.DataFrame({"participant": [f"P{i}" for i in range(6)], "arm": ["placebo"] * 3 + ["drug"] * 3})


def test_no_adverse_event_at_all_is_an_estimable_zero():
    table = adverse_event_table(pd.DataFrame(columns=["participant", "term"]), PARTICIPANTS, "placebo", "drug")
    assert list(table.columns) == ADVERSE_EVENT_COLUMNS
    row = table.iloc[0]
    assert (row["term"], row["n_treatment"], row["n_reference"], row["risk_difference"]) == (
        "any adverse event", 0, 0, 0.0)
    assert row["fisher_p"] == 1.0 and np.isfinite(row["rd_ci_lower"])


def test_dissociation_without_scores_in_one_arm():
    scores = pd.DataFrame({"participant": ["P3", "P4", "P5"], "score": [10.0, 22.0, 15.0]})
    table = dissociation_table(scores, PARTICIPANTS, "placebo", "drug")
    assert list(table.columns) == DISSOCIATION_COLUMNS + ["note"]
    assert table["note"].tolist() == [
        "not estimable: no CADSS score in the placebo arm", "",
        "not estimable: fewer than two CADSS scores in an arm (0 placebo, 3 drug)",
        "not estimable: no CADSS score in an arm (0 placebo, 3 drug)"]
    assert table.loc[2:, "estimate"].isna().all()


def test_dissociation_without_variance():
    scores = pd.DataFrame({"participant": PARTICIPANTS["participant"], "score": [0.0] * 3 + [4.0] * 3})
    table = dissociation_table(scores, PARTICIPANTS, "placebo", "drug").set_index("statistic")
    assert np.isnan(table.loc["difference in means (Welch)", "estimate"])
    assert table.loc["difference in means (Welch)", "note"] == ("not estimable: every CADSS score is the same "
                                                                "within each arm (no variance)")
    assert table.loc["Hodges-Lehmann shift (Mann-Whitney)", "estimate"] == 4.0


def test_dissociation_with_every_score_keeps_its_columns():
    scores = pd.DataFrame({"participant": PARTICIPANTS["participant"], "score": [1.0, 0.0, 3.0, 9.0, 15.0, 12.0]})
    assert list(dissociation_table(scores, PARTICIPANTS, "placebo", "drug").columns) == DISSOCIATION_COLUMNS


@pytest.fixture(scope="module")
def unscored_visit(tmp_path_factory):
    """No outcome is scored at v1 (not a key visit); no screening data; progression criteria
    that need them."""
    config, analysis = tiny_trial(tmp_path_factory.mktemp("unscored"), n_per_arm=3, key=("v2",), extra={
        "feasibility": {"progression_criteria": [
            {"name": "Eligibility >= 50%", "metric": "eligibility_rate", "threshold": 0.5},
            {"name": "Retention >= 80%", "metric": "retention", "visit": "v2", "threshold": 0.8},
            {"name": "Completeness at v1", "metric": "completeness", "visit": "v1", "threshold": 0.9}]}})
    analysis = analysis.copy()
    analysis.loc[analysis["visit"] == "v1", ["score", "change"]] = np.nan
    return config, analysis


def test_feasibility_without_screening_data_or_scores_at_a_visit(unscored_visit):
    config, analysis = unscored_visit
    table = feasibility_table(analysis, config)
    by = table.set_index(["measure", "arm", table["visit"].fillna("")])
    for measure in ("screened", "eligible", "eligibility_rate", "consent_rate"):
        row = by.loc[(measure, OVERALL, "")]
        assert np.isnan(row["value"])
        assert row["note"] == ("not estimable: no screening data: configure feasibility.screening_log or "
                               "feasibility.counts")
    completeness = by.loc[("completeness", OVERALL, "v1")]
    assert np.isnan(completeness["proportion"]) and completeness["denominator"] == 0
    assert completeness["note"] == "not estimable: no outcome has a score at v1: nothing was expected"
    assert by.loc[("retention", OVERALL, "v1"), "proportion"] == 0.0  # nobody came: retention is 0, not unknown
    assert by.loc[("completeness", OVERALL, "v2"), "note"].startswith("observed / expected")


def test_progression_criteria_that_cannot_be_assessed_say_why(unscored_visit):
    config, analysis = unscored_visit
    table = progression_table(feasibility_table(analysis, config), config).set_index("metric")
    assert table.loc["eligibility_rate", "met"] == "not assessable"
    assert table.loc["eligibility_rate", "note"] == (
        "not estimable: eligibility_rate is not available (no screening data: configure "
        "feasibility.screening_log or feasibility.counts)")
    assert table.loc["completeness", "note"] == ("not estimable: completeness is not available (no outcome has a "
                                                 "score at v1: nothing was expected)")
    assert table.loc["retention", "met"] == "met" and table.loc["retention", "note"] == ""


def test_progression_criteria_all_assessable_keep_their_columns(demo_analysis, demo_config):
    from pilottrial.analyses.feasibility import PROGRESSION_COLUMNS

    table = progression_table(feasibility_table(demo_analysis, demo_config), demo_config)
    assert list(table.columns) == PROGRESSION_COLUMNS
