"""Checks run before any job (issue 14, item 2): a trial whose primary analysis cannot run on
its data is refused with one line; secondary outcomes without follow-up are not refused (their
analyses are reported as not estimable later)."""

import numpy as np
import pandas as pd
import pytest

from pilottrial.data.checks import check_analysable
from pilottrial.errors import InputError

CONFIG = {
    "data": {"path": "trial.csv"},
    "columns": {"participant": "id", "arm": "group", "visit": "week"},
    "arms": {"reference": "placebo", "treatment": "drug"},
    "visits": {"baseline": "w0", "order": ["w0", "w4", "w8"], "key": ["w8"]},
    "outcomes": [{"name": "HAM-D", "column": "hamd", "primary": True}, {"name": "QoL", "column": "qol"}],
    "analysis": {},
}


def table(n_per_arm=4, seed=1):
    """An analysis table: 2 arms x n participants x 3 visits x 2 outcomes, everything observed."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(2 * n_per_arm):
        arm = "placebo" if k < n_per_arm else "drug"
        for outcome in ("HAM-D", "QoL"):
            base = float(rng.integers(10, 30))
            for visit in ("w0", "w4", "w8"):
                score = base if visit == "w0" else base - float(rng.integers(0, 8))
                rows.append({"participant": f"P{k:02d}", "arm": arm, "visit": visit, "outcome": outcome,
                             "baseline": base, "score": score, "change": score - base,
                             "age": 30.0 + k, "site": "A" if k % 2 else "B"})
    return pd.DataFrame(rows)


def config(**analysis):
    out = {**CONFIG, "analysis": analysis}
    return out


def refused(analysis, settings=None):
    with pytest.raises(InputError) as info:
        check_analysable(analysis, settings or config())
    message = info.value.one_line()
    assert "\n" not in message and "-- fix:" in message and "trial.csv" in message
    return message


def drop(frame, outcome=None, arm=None, visit=None, column="score"):
    """Scores (and changes) of these rows made missing."""
    frame = frame.copy()
    rows = np.ones(len(frame), dtype=bool)
    for key, value in (("outcome", outcome), ("arm", arm), ("visit", visit)):
        if value is not None:
            rows &= frame[key].isin([value] if isinstance(value, str) else value).to_numpy()
    frame.loc[rows, column] = np.nan
    if column == "score":
        frame.loc[rows, "change"] = np.nan
    return frame


def test_a_trial_that_can_be_analysed_passes():
    check_analysable(table(), config(covariates=["age"], strata=["site"]))


def test_primary_outcome_without_follow_up_in_one_arm_is_refused():
    message = refused(drop(table(), "HAM-D", "drug", ["w4", "w8"]))
    assert "the primary outcome HAM-D has no post-baseline score in arm 'drug'" in message


def test_secondary_outcome_without_follow_up_is_not_refused():
    check_analysable(drop(table(), "QoL", None, ["w4", "w8"]), config())


def test_fewer_than_two_participants_per_arm_is_refused():
    frame = drop(table(), "HAM-D", "placebo", ["w4", "w8"])
    frame.loc[(frame["participant"] == "P00") & (frame["outcome"] == "HAM-D") & (frame["visit"] == "w8"),
              ["score", "change"]] = [20.0, -1.0]
    assert "1 participant(s) in arm 'placebo' have a post-baseline HAM-D score" in refused(frame)


def test_key_visit_without_primary_scores_in_one_arm_is_refused():
    message = refused(drop(table(), "HAM-D", "drug", "w8"))
    assert "key visit 'w8' has no HAM-D score in arm 'drug'" in message and "visits.key" in message


def test_visit_with_primary_scores_in_one_arm_only_is_refused():
    message = refused(drop(table(), "HAM-D", "placebo", "w4"))
    assert "visit 'w4' has no HAM-D score in arm 'placebo'" in message


def test_covariate_missing_for_everyone_is_refused():
    assert "covariate 'age' is missing for every participant" in refused(
        drop(table(), column="age"), config(covariates=["age"]))


def test_constant_covariate_or_stratum_is_refused():
    frame = table().assign(age=40.0, site="A")
    assert "covariate 'age' is 40 for every participant" in refused(frame, config(covariates=["age"]))
    assert "stratum 'site' is 'A' for every participant" in refused(frame, config(strata=["site"]))


def test_raw_analysis_needs_scores_not_baselines():
    frame = table().assign(baseline=np.nan, change=np.nan)
    check_analysable(frame, config(response="raw"))
    assert "no score in arm 'drug'" in refused(drop(frame, "HAM-D", "drug"), config(response="raw"))
