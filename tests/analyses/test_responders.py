"""Responders and remitters (pilottrial.analyses.responders) against published and hand-worked values."""

import copy

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pilottrial.analyses.responders import (
    RESPONDER_COLUMNS,
    compare_proportions,
    is_responder,
    number_needed_to_treat,
    responder_table,
)

NUMERIC = [c for c in RESPONDER_COLUMNS if c not in ("outcome", "visit", "definition", "nnt_note", "or_note")]


@pytest.fixture(scope="module")
def demo(demo_config, demo_analysis):
    return demo_config, demo_analysis


# Newcombe RG (1998) Stat Med 17:873-890, Table II, method 10 (hybrid score, no continuity correction):
# (a) 56/70 - 48/80, (b) 9/10 - 3/10, (d) 5/56 - 0/29, (e) 0/10 - 0/20, (g) 10/10 - 0/20.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), 0.2, (0.0524, 0.3339)),
    ((9, 10, 3, 10), 0.6, (0.1705, 0.8090)),
    ((5, 56, 0, 29), 5 / 56, (-0.0381, 0.1926)),
    ((0, 10, 0, 20), 0.0, (-0.1611, 0.2775)),
    ((10, 10, 0, 20), 1.0, (0.6791, 1.0000)),
]


@pytest.mark.parametrize("counts, difference, interval", NEWCOMBE_TABLE_II)
def test_risk_difference_matches_newcombe_1998_table_ii(counts, difference, interval):
    result = compare_proportions(*counts)
    assert result["risk_difference"] == pytest.approx(difference, abs=1e-12)
    assert result["rd_ci_lower"] == pytest.approx(interval[0], abs=5e-5)
    assert result["rd_ci_upper"] == pytest.approx(interval[1], abs=5e-5)


def test_fisher_exact_matches_the_lady_tasting_tea():
    """Fisher (1935): 3 of 4 cups right in each row, table [[3, 1], [1, 3]]; the two-sided p
    sums the hypergeometric tables 0, 1, 3 and 4 right: (1 + 16 + 16 + 1) / 70 = 0.4857."""
    result = compare_proportions(3, 4, 1, 4)
    assert result["fisher_p"] == pytest.approx(34 / 70, rel=1e-12)


def test_fisher_exact_one_sided_hypergeometric_tail():
    """A zero cell: 4/14 vs 0/13. The most extreme tables in both directions are summed; recompute
    from the hypergeometric distribution (27 participants, 4 responders, 14 treated)."""
    hyper = stats.hypergeom(27, 4, 14)
    observed = hyper.pmf(4)
    expected = sum(hyper.pmf(k) for k in range(5) if hyper.pmf(k) <= observed * (1 + 1e-7))
    assert compare_proportions(4, 14, 0, 13)["fisher_p"] == pytest.approx(expected, rel=1e-10)


def test_odds_ratio_is_the_sample_ratio_with_the_gart_adjusted_logit_interval():
    """56/70 vs 48/80: OR = 56 x 32 / (14 x 48) = 2.6667; the Gart interval by hand, 0.5 added to
    every cell: exp(log(56.5 x 32.5 / (14.5 x 48.5)) +- 1.96 sqrt(sum 1/(x + 0.5)))."""
    result = compare_proportions(56, 70, 48, 80)
    assert result["odds_ratio"] == pytest.approx(56 * 32 / (14 * 48))
    centre = np.log(56.5 * 32.5 / (14.5 * 48.5))
    half = stats.norm.ppf(0.975) * np.sqrt(1 / 56.5 + 1 / 14.5 + 1 / 48.5 + 1 / 32.5)
    assert result["or_ci_lower"] == pytest.approx(np.exp(centre - half), rel=1e-10)
    assert result["or_ci_upper"] == pytest.approx(np.exp(centre + half), rel=1e-10)
    assert result["or_note"].startswith("sample OR")


def test_zero_cell_gives_the_haldane_anscombe_odds_ratio():
    """4/14 vs 0/13: sample OR infinite; shown (4.5 x 13.5)/(10.5 x 0.5) = 11.571, inside a finite interval."""
    result = compare_proportions(4, 14, 0, 13)
    assert result["odds_ratio"] == pytest.approx(4.5 * 13.5 / (10.5 * 0.5))
    assert 0 < result["or_ci_lower"] < result["odds_ratio"] < result["or_ci_upper"] < np.inf
    assert "Haldane" in result["or_note"]


def test_no_responder_in_either_arm_odds_ratio_not_estimable():
    result = compare_proportions(0, 10, 0, 20)
    assert np.isnan(result["odds_ratio"]) and np.isnan(result["or_ci_lower"])
    assert result["fisher_p"] == 1.0
    assert result["risk_difference"] == 0.0
    assert np.isnan(result["nnt"])  # 1/0 is not reported as infinity
    assert result["nnt_note"].startswith("RD 0: NNT infinite")


def test_empty_arm_gives_nan_with_a_reason():
    result = compare_proportions(3, 10, 0, 0)
    assert all(np.isnan(result[k]) for k in ("risk_difference", "odds_ratio", "fisher_p", "nnt"))
    assert "not estimable" in result["or_note"] and "not estimable" in result["nnt_note"]


def test_nnt_when_the_rd_interval_excludes_zero():
    """RD 0.25 (0.05 to 0.5): NNTB 4, CI 1/0.5 = 2 to 1/0.05 = 20."""
    nnt = number_needed_to_treat(0.25, 0.05, 0.5)
    assert nnt["nnt"] == pytest.approx(4.0)
    assert (nnt["nnt_ci_lower"], nnt["nnt_ci_upper"]) == pytest.approx((2.0, 20.0))
    assert nnt["nnt_note"] == "NNTB 4.0; CI: NNTB 2.0 to 20.0"


def test_nnt_harm_when_the_rd_interval_is_below_zero():
    """RD -0.25 (-0.5 to -0.05): NNTH 4, CI NNTH 2 to 20 (signed: -20 to -2)."""
    nnt = number_needed_to_treat(-0.25, -0.5, -0.05)
    assert nnt["nnt"] == pytest.approx(-4.0)
    assert (nnt["nnt_ci_lower"], nnt["nnt_ci_upper"]) == pytest.approx((-20.0, -2.0))
    assert nnt["nnt_note"] == "NNTH 4.0; CI: NNTH 2.0 to 20.0"


def test_nnt_split_interval_altman_1998():
    """Altman (1998): RD interval through 0 -> NNT interval in two pieces through infinity.
    RD 0.2 (-0.0654 to 0.3): NNTB 5, CI NNTB 1/0.3 = 3.3 to infinity to NNTH 1/0.0654 = 15.3."""
    nnt = number_needed_to_treat(0.2, -0.0654, 0.3)
    assert nnt["nnt"] == pytest.approx(5.0)
    assert nnt["nnt_ci_lower"] == pytest.approx(1 / 0.3)
    assert nnt["nnt_ci_upper"] == pytest.approx(-1 / 0.0654)
    assert nnt["nnt_ci_lower"] > 0 > nnt["nnt_ci_upper"]
    assert nnt["nnt_note"] == "NNTB 5.0; CI: NNTB 3.3 to infinity to NNTH 15.3"


def test_nnt_interval_touching_zero_stays_finite():
    nnt = number_needed_to_treat(0.2, 0.0, 0.4)
    assert np.isnan(nnt["nnt_ci_upper"]) and nnt["nnt_ci_lower"] == pytest.approx(2.5)
    assert nnt["nnt_note"] == "NNTB 5.0; CI: NNTB 2.5 to infinity"


def test_response_threshold_is_inclusive_and_robust_to_floating_point():
    """Exactly 30% improvement is a response, also when floating point rounds the gain below 30%."""
    assert is_responder([10.0], [7.0], 0.3, "lower").tolist() == [True]
    assert is_responder([10.0], [7.01], 0.3, "lower").tolist() == [False]
    assert is_responder([40.0], [28.0], 0.3, "lower").tolist() == [True]
    # 2.3 -> 1.61 is exactly 30%, but 2.3 - 1.61 = 0.6899999999999997 < 0.3 * 2.3 = 0.69 in floating point
    assert 2.3 - 1.61 < 0.3 * 2.3
    assert is_responder([2.3], [1.61], 0.3, "lower").tolist() == [True]


def test_response_direction_for_higher_is_better_and_baseline_zero():
    assert is_responder([10.0, 10.0, 10.0], [13.0, 12.9, 5.0], 0.3, "higher").tolist() == [True, False, False]
    assert is_responder([10.0], [13.0], 0.3, "lower").tolist() == [False]  # worse on a lower-is-better scale
    assert is_responder([0.0, 0.0], [0.0, 5.0], 0.3, "higher").tolist() == [False, False]
    assert is_responder([0.0], [0.0], 0.3, "lower").tolist() == [False]


def _toy(better="lower"):
    """Treatment: 4 participants (one missing at 30d); reference: 3 participants."""
    rows = []
    data = {"ketamine": [(40, 20), (30, 25), (20, 14), (50, None)], "midazolam": [(40, 35), (30, 9), (20, 20)]}
    for arm, pairs in data.items():
        for i, (base, score) in enumerate(pairs):
            pid = f"{arm}-{i}"
            rows.append({"participant": pid, "arm": arm, "visit": "baseline", "outcome": "CAPS", "baseline": base,
                         "score": base, "change": 0.0})
            rows.append({"participant": pid, "arm": arm, "visit": "30d", "outcome": "CAPS", "baseline": base,
                         "score": np.nan if score is None else score,
                         "change": np.nan if score is None else score - base})
    config = {"arms": {"reference": "midazolam", "treatment": "ketamine"},
              "visits": {"baseline": "baseline", "order": ["baseline", "30d"], "key": ["30d"]},
              "outcomes": [{"name": "CAPS", "better": better, "primary": True, "role": "efficacy",
                            "remission_below": 20}],
              "analysis": {"alpha": 0.05, "responder_improvement": 0.3}}
    return pd.DataFrame(rows), config


def test_table_counts_and_denominators_on_a_hand_built_trial():
    """Treatment 40->20 (50%), 30->25 (17%), 20->14 (30%), one missing: 2 of 3 respond;
    reference 40->35, 30->9 (70%), 20->20: 1 of 3. Remission (< 20): treatment 14 -> 1 of 3,
    reference 9 -> 1 of 3 (a score of exactly 20 is not a remission: strictly below)."""
    analysis, config = _toy()
    table = responder_table(analysis, config).set_index("definition")
    assert list(table.index) == ["response", "remission"]
    response = table.loc["response"]
    assert (response.n_treatment, response.N_treatment, response.missing_treatment) == (2, 3, 1)
    assert (response.n_reference, response.N_reference, response.missing_reference) == (1, 3, 0)
    assert response.threshold == 0.3
    assert response.pct_treatment == pytest.approx(200 / 3)
    assert response.risk_difference == pytest.approx(1 / 3)
    assert response.fisher_p == pytest.approx(1.0)
    remission = table.loc["remission"]
    assert (remission.n_treatment, remission.n_reference) == (1, 1)
    assert remission.threshold == 20.0


def test_remission_rows_only_when_the_outcome_sets_a_cut_off():
    analysis, config = _toy()
    del config["outcomes"][0]["remission_below"]
    assert list(responder_table(analysis, config)["definition"]) == ["response"]


def test_higher_is_better_counts_gains():
    analysis, config = _toy("higher")
    response = responder_table(analysis, config).set_index("definition").loc["response"]
    assert response.n_treatment == 0 and response.n_reference == 0  # everyone's score fell


def test_demo_trial_end_to_end(demo):
    config, analysis = demo
    config = copy.deepcopy(config)
    for outcome, cut_off in zip(config["outcomes"], (20, 33, 10)):
        outcome["remission_below"] = cut_off
    table = responder_table(analysis, config)
    assert list(table.columns) == RESPONDER_COLUMNS
    assert len(table) == 3 * 2 * 2
    assert np.isfinite(table[NUMERIC].to_numpy(dtype=float)).all()  # no NaN, no inf where a number is due
    arm_sizes = analysis.drop_duplicates("participant")["arm"].value_counts()
    assert (table["N_treatment"] + table["missing_treatment"] == arm_sizes["ketamine"]).all()
    assert (table["N_reference"] + table["missing_reference"] == arm_sizes["midazolam"]).all()
    # one row recomputed directly from the raw scores: CAPS-5 response at 30d
    row = table[(table.outcome == "CAPS-5") & (table.visit == "30d") & (table.definition == "response")].iloc[0]
    at = analysis[(analysis.outcome == "CAPS-5") & (analysis.visit == "30d")].dropna(subset=["score"])
    responders = (at.baseline - at.score) >= 0.3 * at.baseline - 1e-9
    assert row.n_treatment == responders[at.arm == "ketamine"].sum()
    assert row.n_reference == responders[at.arm == "midazolam"].sum()
    assert row.nnt == pytest.approx(1 / row.risk_difference)


def test_no_baseline_visit_means_no_response_rows():
    analysis, config = _toy()
    del config["visits"]["baseline"]
    analysis["baseline"] = np.nan
    assert list(responder_table(analysis, config)["definition"]) == ["remission"]


def test_demo_without_remission_cut_offs_has_response_rows_only(demo):
    config, analysis = demo
    config = copy.deepcopy(config)
    for outcome in config["outcomes"]:
        outcome.pop("remission_below", None)
    table = responder_table(analysis, config)
    assert set(table["definition"]) == {"response"} and len(table) == 3 * 2
