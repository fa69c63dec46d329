"""Holm adjustment of the secondary efficacy outcomes at each key visit (pilottrial.analyses.multiplicity)."""

import copy

import numpy as np
import pandas as pd
import pytest

from pilottrial.analyses.multiplicity import ADJUSTED_COLUMNS, adjust_contrasts, holm
from pilottrial.models.primary import CONTRAST_COLUMNS


@pytest.fixture(scope="module")
def demo(demo_config, demo_primary):
    return demo_config, demo_primary[0]


def _config(multiplicity="holm"):
    return {
        "visits": {"baseline": "baseline", "order": ["baseline", "24h", "7d", "30d"], "key": ["24h", "30d"]},
        "analysis": {"multiplicity": multiplicity},
        "outcomes": [
            {"name": "P", "primary": True, "role": "efficacy"},
            {"name": "S1", "primary": False, "role": "efficacy"},
            {"name": "S2", "primary": False, "role": "efficacy"},
            {"name": "S3", "primary": False, "role": "efficacy"},
            {"name": "ROI", "primary": False, "role": "mechanism"},
        ],
    }


def _contrasts(p_values: dict) -> pd.DataFrame:
    """Contrast rows with the given p-values {(outcome, visit): p}, plus lmm and 7d rows to be dropped."""
    rows = []
    for (outcome, visit), p in p_values.items():
        for model in ("mmrm", "lmm"):
            rows.append({"outcome": outcome, "model": model, "visit": visit, "estimate": -1.0, "std_error": 1.0,
                         "df": 20.0, "ci_lower": -3.0, "ci_upper": 1.0, "p_value": p if model == "mmrm" else 0.999})
        rows.append({"outcome": outcome, "model": "mmrm", "visit": "7d", "estimate": -1.0, "std_error": 1.0,
                     "df": 20.0, "ci_lower": -3.0, "ci_upper": 1.0, "p_value": 0.5})
    return pd.DataFrame(rows)[CONTRAST_COLUMNS]


HAND_WORKED = {
    ("P", "24h"): 0.04, ("S1", "24h"): 0.01, ("S2", "24h"): 0.04, ("S3", "24h"): 0.03, ("ROI", "24h"): 0.02,
    ("P", "30d"): 0.30, ("S1", "30d"): 0.20, ("S2", "30d"): 0.50, ("S3", "30d"): 0.001, ("ROI", "30d"): 0.6,
}


def test_holm_matches_hand_worked_step_down():
    """Holm (1979) by hand. 24h family (S1, S2, S3) = (0.01, 0.04, 0.03): ordered 0.01 x 3 = 0.03,
    0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> running max 0.03, 0.06, 0.06, so S1 0.03, S2 0.06, S3 0.06.
    30d family (0.20, 0.50, 0.001): 0.001 x 3 = 0.003, 0.20 x 2 = 0.40, 0.50 x 1 = 0.50."""
    table = adjust_contrasts(_contrasts(HAND_WORKED), _config()).set_index(["outcome", "visit"])
    expected = {("S1", "24h"): 0.03, ("S2", "24h"): 0.06, ("S3", "24h"): 0.06,
                ("S1", "30d"): 0.40, ("S2", "30d"): 0.50, ("S3", "30d"): 0.003}
    for key, p in expected.items():
        assert table.loc[key, "p_adjusted"] == pytest.approx(p, abs=1e-12), key
        assert table.loc[key, "adjustment"] == f"Holm across secondary outcomes at {key[1]}"


def test_primary_and_mechanism_outcomes_are_not_adjusted():
    table = adjust_contrasts(_contrasts(HAND_WORKED), _config()).set_index(["outcome", "visit"])
    for visit in ("24h", "30d"):
        assert table.loc[("P", visit), "p_adjusted"] == HAND_WORKED[("P", visit)]
        assert table.loc[("P", visit), "adjustment"] == "none (primary)"
        assert table.loc[("ROI", visit), "p_adjusted"] == HAND_WORKED[("ROI", visit)]
        assert table.loc[("ROI", visit), "adjustment"].startswith("none (mechanism")


def test_only_mmrm_rows_at_key_visits_in_config_order():
    table = adjust_contrasts(_contrasts(HAND_WORKED), _config())
    assert list(table.columns) == ADJUSTED_COLUMNS
    assert set(table["model"]) == {"mmrm"}
    assert list(table["outcome"]) == ["P", "P", "S1", "S1", "S2", "S2", "S3", "S3", "ROI", "ROI"]
    assert list(table["visit"]) == ["24h", "30d"] * 5
    assert (table["p_adjusted"] < 0.999).all()  # the lmm p-values never leak in


def test_multiplicity_none_leaves_p_values_alone():
    table = adjust_contrasts(_contrasts(HAND_WORKED), _config("none"))
    np.testing.assert_array_equal(table["p_adjusted"], table["p_value"])
    secondary = table[table["outcome"].isin(["S1", "S2", "S3"])]
    assert set(secondary["adjustment"]) == {"none"}
    assert set(table.loc[table["outcome"] == "P", "adjustment"]) == {"none (primary)"}


def test_missing_p_value_is_left_out_of_the_family():
    """S2 at 24h not estimable: the family is (S1, S3) = (0.01, 0.03) -> 0.02, 0.03."""
    p_values = dict(HAND_WORKED)
    p_values[("S2", "24h")] = np.nan
    table = adjust_contrasts(_contrasts(p_values), _config()).set_index(["outcome", "visit"])
    assert table.loc[("S1", "24h"), "p_adjusted"] == pytest.approx(0.02)
    assert table.loc[("S3", "24h"), "p_adjusted"] == pytest.approx(0.03)
    assert np.isnan(table.loc[("S2", "24h"), "p_adjusted"])


def test_holm_never_exceeds_one():
    p_values = {key: 0.9 for key in HAND_WORKED}
    table = adjust_contrasts(_contrasts(p_values), _config())
    assert table["p_adjusted"].max() == 1.0


def test_demo_trial_end_to_end(demo):
    """Demo: CAPS-5 primary; PCL-5 and MADRS form a family of two at each key visit, for which
    Holm gives min(1, 2 p_min) and max(p_max, 2 p_min)."""
    config, contrasts = demo
    table = adjust_contrasts(contrasts, config)
    mechanism = {o["name"] for o in config["outcomes"] if o.get("role") == "mechanism"}
    measured = contrasts[(contrasts.model == "mmrm") & contrasts.visit.isin(config["visits"]["key"])]
    assert len(table) == len(measured)  # efficacy outcomes at each key visit, mechanism where measured
    assert (table[table.outcome.isin(mechanism)]["adjustment"].str.startswith("none")).all()
    table = table[~table.outcome.isin(mechanism)]
    assert len(table) == 3 * 2
    assert table[["estimate", "std_error", "df", "p_value", "p_adjusted"]].notna().all().all()
    assert (table["p_adjusted"] >= table["p_value"] - 1e-15).all()
    for visit in config["visits"]["key"]:
        at = table[table["visit"] == visit].set_index("outcome")
        assert at.loc["CAPS-5", "p_adjusted"] == at.loc["CAPS-5", "p_value"]
        p = at.loc[["PCL-5", "MADRS"], "p_value"]
        low, high = p.idxmin(), p.idxmax()
        assert at.loc[low, "p_adjusted"] == pytest.approx(min(1.0, 2 * p.min()))
        assert at.loc[high, "p_adjusted"] == pytest.approx(max(p.max(), 2 * p.min()))
    original = contrasts.set_index(["outcome", "model", "visit"])
    for row in table.itertuples():
        assert row.estimate == original.loc[(row.outcome, "mmrm", row.visit), "estimate"]


def test_secondary_mechanism_role_moves_an_outcome_out_of_the_family(demo):
    config, contrasts = demo
    config = copy.deepcopy(config)
    config["outcomes"][2]["role"] = "mechanism"  # MADRS
    table = adjust_contrasts(contrasts, config).set_index(["outcome", "visit"])
    for visit in config["visits"]["key"]:
        assert table.loc[("PCL-5", visit), "p_adjusted"] == table.loc[("PCL-5", visit), "p_value"]  # family of one
        assert table.loc[("MADRS", visit), "p_adjusted"] == table.loc[("MADRS", visit), "p_value"]


def test_holm_primitive_is_the_hand_worked_family_and_skips_missing_p_values():
    """The 24h family of the hand-worked example, (0.01, 0.04, 0.03) -> (0.03, 0.06, 0.06); NaN stays NaN."""
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan], rtol=1e-12)
    assert (holm([0.4, 0.6, 0.9]) <= 1.0).all()


def test_the_table_accepts_the_typed_trial(demo, demo_trial):
    config, contrasts = demo
    pd.testing.assert_frame_equal(adjust_contrasts(contrasts, demo_trial),
                                  adjust_contrasts(contrasts, config))
