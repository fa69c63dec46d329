"""Feasibility: Wilson and Poisson intervals against textbook and R values, the demo's counts
against pandas, progression criteria, and the checks of the screening log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT

from pilottrial.analyses.feasibility import (
    FEASIBILITY_COLUMNS,
    OVERALL,
    PROGRESSION_COLUMNS,
    feasibility_table,
    poisson_rate_interval,
    progression_table,
    read_screening_log,
    wilson_interval,
)
from pilottrial.config.load import validate_config
from pilottrial.errors import InputError

DEMO = REPO_ROOT / "data" / "demo"
LOG = DEMO / "screening_log.csv"
CRITERIA = [
    {"name": "Retention at 30 days >= 80%", "metric": "retention", "visit": "30d", "threshold": 0.8},
    {"name": "Completeness over all visits >= 90%", "metric": "completeness", "visit": "all", "threshold": 0.9},
    {"name": "Recruitment >= 2 per month", "metric": "recruitment_per_month", "threshold": 2},
    {"name": "Eligibility >= 50%", "metric": "eligibility_rate", "threshold": 0.5},
    {"name": "Consent >= 70%", "metric": "consent_rate", "threshold": 0.7},
]
MECHANISM = [
    {"name": "Amygdala reactivity", "column": "amygdala_reactivity", "range": [None, None], "role": "mechanism"},
    {"name": "Hippocampus reactivity", "column": "hippocampus_reactivity", "range": [None, None],
     "role": "mechanism"},
]


def demo_config(feasibility=None, mechanism=True) -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["data"]["path"] = str((REPO_ROOT / "config" / config["data"]["path"]).resolve())
    config.pop("harms", None)
    config["feasibility"] = ({"screening_log": {"path": str(LOG)}, "progression_criteria": CRITERIA}
                             if feasibility is None else feasibility)
    columns = {o.get("column") for o in config["outcomes"]}
    if mechanism:
        config["outcomes"] += [o for o in MECHANISM if o["column"] not in columns]
    else:
        config["outcomes"] = [o for o in config["outcomes"] if o.get("role") != "mechanism"]
    return validate_config(config, base_dir=REPO_ROOT / "config")


@pytest.fixture(scope="module")
def config() -> dict:
    return demo_config()


@pytest.fixture(scope="module")
def analysis(demo_analysis) -> pd.DataFrame:
    """The demo's analysis table: this module's config names the demo's data and outcomes."""
    return demo_analysis


@pytest.fixture(scope="module")
def table(analysis, config) -> pd.DataFrame:
    return feasibility_table(analysis, config)


def pick(table, measure, arm=OVERALL, visit=None):
    rows = table[(table["measure"] == measure) & (table["arm"] == arm)]
    rows = rows[rows["visit"].isna()] if visit is None else rows[rows["visit"] == visit]
    assert len(rows) == 1, (measure, arm, visit)
    return rows.iloc[0]


# --------------------------------------------------------------------------- intervals


def test_wilson_matches_newcombe_1998_table_i():
    # Newcombe RG, Stat Med 1998;17:857-872, Table I: 81/263, Wilson score 0.2553 to 0.3662
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    # R 4.2.2 Hmisc::binconf(24, 27, method = "wilson")
    assert wilson_interval(24, 27) == pytest.approx((0.7194219918, 0.9614796517), rel=1e-9)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=5e-5)
    assert np.isnan(wilson_interval(0, 0)).all()


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_matches_statsmodels(alpha):
    from statsmodels.stats.proportion import proportion_confint

    for nobs in (1, 2, 7, 13, 27, 120):
        for count in range(nobs + 1):
            expected = proportion_confint(count, nobs, alpha=alpha, method="wilson")
            assert wilson_interval(count, nobs, alpha) == pytest.approx(expected, abs=1e-12), (count, nobs)


def test_poisson_rate_interval_matches_r_poisson_test():
    # R 4.2.2: poisson.test(10)$conf.int and poisson.test(27, 14)$conf.int (Garwood)
    assert poisson_rate_interval(10, 1) == pytest.approx((4.795388696, 18.390356042), rel=1e-9)
    assert poisson_rate_interval(27, 14) == pytest.approx((1.270940724, 2.805970175), rel=1e-9)
    assert poisson_rate_interval(0, 1) == pytest.approx((0.0, 3.6888794541), rel=1e-9)


# --------------------------------------------------------------------------- the demo


def test_layout_and_no_nan_where_a_number_is_due(table):
    assert list(table.columns) == FEASIBILITY_COLUMNS
    assert not table["value"].isna().any()
    ratio = table["denominator"].notna()
    proportions = ratio & (table["measure"] != "recruitment_per_month")
    assert not table.loc[proportions, ["numerator", "proportion", "ci_lower", "ci_upper"]].isna().any().any()
    assert (table.loc[proportions, "ci_lower"] <= table.loc[proportions, "proportion"]).all()
    assert (table.loc[proportions, "proportion"] <= table.loc[proportions, "ci_upper"]).all()
    assert not table.duplicated(["measure", "arm", "visit"]).any()


def test_screening_counts_match_the_log(table):
    log = pd.read_csv(LOG, dtype=str, keep_default_na=False)
    screened, eligible = len(log), (log["eligible"] == "yes").sum()
    randomized = (log["randomized"] == "yes").sum()
    assert pick(table, "screened")["value"] == screened == 58
    assert pick(table, "eligible")["value"] == eligible == 34
    rate = pick(table, "eligibility_rate")
    assert (rate["numerator"], rate["denominator"]) == (eligible, screened)
    assert (rate["ci_lower"], rate["ci_upper"]) == wilson_interval(eligible, screened)
    consent = pick(table, "consent_rate")
    assert (consent["numerator"], consent["denominator"]) == (randomized, eligible)
    per_month = log.groupby("month")["randomized"].apply(lambda s: (s == "yes").sum())
    assert pick(table, "recruitment_months")["value"] == 14 == per_month.size
    mean = pick(table, "recruitment_per_month")
    assert mean["value"] == pytest.approx(randomized / 14)
    assert np.isnan(mean["proportion"])
    assert (mean["ci_lower"], mean["ci_upper"]) == poisson_rate_interval(randomized, 14)
    assert pick(table, "recruitment_per_month_min")["value"] == per_month.min()
    assert pick(table, "recruitment_per_month_max")["value"] == per_month.max()


def test_retention_and_completeness_match_pandas(table):
    raw = pd.read_csv(DEMO / "ketamine_ptsd_demo.csv")
    scores = ["caps5", "pcl5", "madrs", "amygdala_reactivity", "hippocampus_reactivity"]
    arm_n = raw.drop_duplicates("participant")["arm"].value_counts()
    for visit in ["24h", "7d", "30d"]:
        at = raw[raw["visit"] == visit]
        present = at[at[scores].notna().any(axis=1)]
        for arm in ["ketamine", "midazolam"]:
            row = pick(table, "retention", arm, visit)
            assert row["numerator"] == (present["arm"] == arm).sum()
            assert row["denominator"] == arm_n[arm]
        assert pick(table, "retention", OVERALL, visit)["numerator"] == len(present)
    # completeness: scheduled = outcomes with any score at the visit
    expected = observed = 0
    for visit, at in raw.groupby("visit"):
        scheduled = [c for c in scores if at[c].notna().any()]
        expected += len(scheduled) * 27
        observed += int(at[scheduled].notna().sum().sum())
        row = pick(table, "completeness", OVERALL, visit)
        assert (row["numerator"], row["denominator"]) == (at[scheduled].notna().sum().sum(), len(scheduled) * 27)
    row = pick(table, "completeness", OVERALL, "all")
    assert (row["numerator"], row["denominator"]) == (observed, expected)
    # imaging is not scheduled at 24h: 3 clinical outcomes x 27, all observed
    assert pick(table, "completeness", OVERALL, "24h")["denominator"] == 81


def test_received_infusion_and_randomized(table):
    assert pick(table, "randomized")["value"] == 27
    assert pick(table, "randomized", "ketamine")["value"] == 14
    row = pick(table, "received_infusion")
    assert (row["numerator"], row["denominator"]) == (27, 27)
    assert "assumed" in row["note"]


def test_counts_from_the_config_without_a_log(analysis):
    config = demo_config({"counts": {"screened": 60, "eligible": 30}})
    table = feasibility_table(analysis, config)
    assert pick(table, "screened")["value"] == 60
    consent = pick(table, "consent_rate")
    assert (consent["numerator"], consent["denominator"]) == (27, 30)
    assert pick(table, "recruitment_per_month")["note"].startswith("needs")
    assert np.isnan(pick(table, "recruitment_per_month")["value"])


def test_no_screening_data_gives_nan_with_a_note(analysis):
    config = demo_config({})
    table = feasibility_table(analysis, config)
    row = pick(table, "eligibility_rate")
    assert np.isnan(row["proportion"]) and "no screening data" in row["note"]
    assert not pick(table, "retention", OVERALL, "30d")[["proportion", "ci_lower"]].isna().any()


def test_log_passed_in_equals_log_read(analysis, config, table):
    log = pd.read_csv(LOG, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(feasibility_table(analysis, config, screening=log), table)


def test_mismatch_between_log_and_trial_is_noted(analysis, config):
    log = read_screening_log(config)
    log = pd.concat([log, log[log["randomized"]].iloc[[0]]], ignore_index=True)  # 28 randomized
    table = feasibility_table(analysis, config, screening=log)
    assert "the screening log counts 28 randomized, the trial data 27" in pick(table, "consent_rate")["note"]
    assert pick(table, "consent_rate")["numerator"] == 28


# --------------------------------------------------------------------------- progression


def test_progression_on_the_demo(table, config):
    progression = progression_table(table, config)
    assert list(progression.columns) == PROGRESSION_COLUMNS
    rows = progression.set_index("metric")
    assert rows.loc["retention", "observed"] == pytest.approx(24 / 27)
    assert rows.loc["retention", "visit"] == "30d"
    assert rows.loc["retention", "met"] == "met"
    assert not rows.loc["retention", "met_with_confidence"]  # Wilson lower 0.719 < 0.8
    assert rows.loc["recruitment_per_month", "observed"] == pytest.approx(27 / 14)
    assert rows.loc["recruitment_per_month", "met"] == "not met"
    assert rows.loc["eligibility_rate", "met"] == "met"
    assert not progression[["observed", "ci_lower", "ci_upper"]].isna().any().any()


def test_met_with_confidence_when_the_interval_is_above(analysis):
    config = demo_config({"screening_log": {"path": str(LOG)},
                          "progression_criteria": [{"name": "ret", "metric": "retention", "visit": "24h",
                                                    "threshold": 0.8}]})
    progression = progression_table(feasibility_table(analysis, config), config)
    assert progression.loc[0, "observed"] == 1.0
    assert progression.loc[0, "met"] == "met" and progression.loc[0, "met_with_confidence"]


def test_default_visit_is_the_last_key_visit(analysis):
    config = demo_config({"progression_criteria": [{"name": "c", "metric": "completeness", "threshold": 0.9}]})
    progression = progression_table(feasibility_table(analysis, config), config)
    assert progression.loc[0, "visit"] == config["visits"]["key"][-1]


def test_not_assessable_without_screening_data(analysis):
    config = demo_config({"progression_criteria": [{"name": "e", "metric": "eligibility_rate",
                                                    "threshold": 0.5}]})
    progression = progression_table(feasibility_table(analysis, config), config)
    assert progression.loc[0, "met"] == "not assessable"


def test_percent_threshold_is_refused(analysis):
    config = demo_config({"progression_criteria": [{"name": "r", "metric": "retention", "threshold": 80}]})
    with pytest.raises(InputError) as info:
        progression_table(feasibility_table(analysis, config), config)
    message = info.value.one_line()
    assert "threshold" in message and "0.8" in message


def test_unknown_visit_is_refused(analysis):
    config = demo_config({"progression_criteria": [{"name": "r", "metric": "retention", "visit": "90d",
                                                    "threshold": 0.8}]})
    with pytest.raises(InputError, match="90d"):
        progression_table(feasibility_table(analysis, config), config)


# --------------------------------------------------------------------------- screening log checks


def _bad_log(tmp_path, old, new):
    text = LOG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "log.csv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    config = demo_config({"screening_log": {"path": str(path)}})
    with pytest.raises(InputError) as info:
        read_screening_log(config)
    message = info.value.one_line()
    assert str(path) in message and "-- fix:" in message
    return message


def test_full_date_is_refused(tmp_path):
    first = LOG.read_text().splitlines()[1]
    sid = first.split(",")[0]
    message = _bad_log(tmp_path, f"{sid},2023-03,", f"{sid},2023-03-14,")
    assert "line 2" in message and "'month'" in message and "YYYY-MM" in message


def test_yes_no_is_checked(tmp_path):
    message = _bad_log(tmp_path, ",yes,yes,", ",yes,maybe,")
    assert "'randomized'" in message and "'maybe'" in message


def test_randomized_but_not_eligible_is_refused(tmp_path):
    message = _bad_log(tmp_path, ",yes,yes,", ",no,yes,")
    assert "randomized but not eligible" in message


def test_missing_column_is_named(tmp_path):
    message = _bad_log(tmp_path, "screening_id,month,eligible", "screening_id,month,eligable")
    assert "['eligible']" in message and "'eligable'" in message
