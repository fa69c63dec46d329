"""Hedges' g of the treatment contrasts (pilottrial.analyses.effects), checked against pingouin."""

import copy

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from pilottrial.analyses.effects import EFFECT_COLUMNS, effect_sizes, hedges_correction, hedges_g, pooled_sd


@pytest.fixture(scope="module")
def demo(demo_config, demo_analysis, demo_primary):
    return demo_config, demo_analysis, demo_primary[0]


def test_hedges_g_matches_pingouin_documented_example():
    """pingouin.compute_effsize docstring: Cohen d of [1,2,3,4] vs [3,4,5,6,7] is -1.707825127659933;
    Hedges g = d x (1 - 3/(4 x 9 - 9)) = d x 8/9."""
    g, lower, upper, sd = hedges_g([1, 2, 3, 4], [3, 4, 5, 6, 7])
    assert g == pytest.approx(-1.707825127659933 * 8 / 9, rel=1e-12)
    assert g == pytest.approx(pg.compute_effsize([1, 2, 3, 4], [3, 4, 5, 6, 7], eftype="hedges"), rel=1e-12)
    assert sd == pytest.approx(np.sqrt((3 * np.var([1, 2, 3, 4], ddof=1) + 4 * np.var([3, 4, 5, 6, 7], ddof=1)) / 7))
    ci = pg.compute_esci(g, nx=4, ny=5, eftype="hedges", confidence=0.95, decimals=12)
    assert (lower, upper) == pytest.approx(tuple(ci), abs=1e-10)


@pytest.mark.parametrize("x, y", [
    ([3, 4, 6, 7, 5, 6, 7, 3, 5, 4, 2], [4, 6, 6, 7, 6, 5, 5, 2, 3, 4, 1]),  # pingouin compute_esci docstring data
    ([-29, -6, -12, -20, -15, -3, -18, -25, -9], [-2, -8, 4, -5, -11, 0, -6, 3]),
])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_hedges_g_and_interval_match_pingouin(x, y, alpha):
    g, lower, upper, _ = hedges_g(x, y, alpha=alpha)
    assert g == pytest.approx(pg.compute_effsize(x, y, paired=False, eftype="hedges"), rel=1e-12)
    ci = pg.compute_esci(g, nx=len(x), ny=len(y), eftype="hedges", confidence=1 - alpha, decimals=12)
    assert (lower, upper) == pytest.approx(tuple(ci), abs=1e-10)


def test_hedges_correction_formula():
    assert hedges_correction(13, 14) == pytest.approx(1 - 3 / 99)
    assert hedges_correction(4, 5) == pytest.approx(1 - 3 / (4 * (4 + 5) - 9))
    assert np.isnan(hedges_correction(1, 1))


def test_hedges_g_undefined_cases_are_nan_without_warnings():
    assert np.isnan(hedges_g([1.0], [2.0, 3.0])[0])
    assert np.isnan(hedges_g([2.0, 2.0], [2.0, 2.0])[0])  # zero SD
    g, *_ = hedges_g([1.0, np.nan, 3.0], [2.0, 4.0, 6.0])  # NaN dropped
    assert g == pytest.approx(pg.compute_effsize([1.0, 3.0], [2.0, 4.0, 6.0], eftype="hedges"))


def test_demo_table_shape_and_no_missing_numbers(demo):
    config, analysis, contrasts = demo
    table = effect_sizes(analysis, contrasts, config)
    assert list(table.columns) == EFFECT_COLUMNS
    assert len(table) == 3 * 3 * 2
    assert list(table["method"][:2]) == ["mmrm_over_baseline_sd", "observed_change"]
    numeric = table[["sd", "estimate", "ci_lower", "ci_upper"]]
    assert np.isfinite(numeric.to_numpy()).all()
    assert (table["ci_lower"] < table["estimate"]).all() and (table["estimate"] < table["ci_upper"]).all()


def test_observed_change_rows_equal_pingouin_on_the_demo(demo):
    config, analysis, contrasts = demo
    table = effect_sizes(analysis, contrasts, config)
    observed = table[table["method"] == "observed_change"]
    for row in observed.itertuples():
        at = analysis[(analysis.outcome == row.outcome) & (analysis.visit == row.visit)].dropna(subset=["change"])
        treatment = at.loc[at.arm == "ketamine", "change"].to_numpy()
        reference = at.loc[at.arm == "midazolam", "change"].to_numpy()
        assert (row.n_treatment, row.n_reference) == (len(treatment), len(reference))
        g = pg.compute_effsize(treatment, reference, eftype="hedges")
        ci = pg.compute_esci(g, nx=len(treatment), ny=len(reference), eftype="hedges", decimals=12)
        assert row.estimate == pytest.approx(g, rel=1e-12)
        assert (row.ci_lower, row.ci_upper) == pytest.approx(tuple(ci), abs=1e-10)


def test_mmrm_rows_are_the_contrast_over_the_pooled_baseline_sd(demo):
    """Recomputed by hand: participants with at least one post-baseline score of the outcome,
    their baseline pooled within arms, J = 1 - 3/(4(n1+n2-2)-1), bounds scaled the same way."""
    config, analysis, contrasts = demo
    table = effect_sizes(analysis, contrasts, config)
    mmrm = table[table["method"] == "mmrm_over_baseline_sd"]
    for outcome in ("CAPS-5", "PCL-5", "MADRS"):
        rows = analysis[analysis.outcome == outcome]
        in_model = rows[(rows.visit != "baseline") & rows.change.notna()].participant.unique()
        baseline = rows[(rows.visit == "baseline") & rows.participant.isin(in_model)]
        s1 = baseline.loc[baseline.arm == "midazolam", "score"]
        s2 = baseline.loc[baseline.arm == "ketamine", "score"]
        n1, n2 = len(s1), len(s2)
        sd = np.sqrt(((n1 - 1) * s1.var() + (n2 - 1) * s2.var()) / (n1 + n2 - 2))
        j = 1 - 3 / (4 * (n1 + n2 - 2) - 1)
        for visit in config["visits"]["order"][1:]:
            row = mmrm[(mmrm.outcome == outcome) & (mmrm.visit == visit)].iloc[0]
            contrast = contrasts[(contrasts.outcome == outcome) & (contrasts.model == "mmrm")
                                 & (contrasts.visit == visit)].iloc[0]
            assert row.sd == pytest.approx(sd, rel=1e-12)
            assert (row.n_reference, row.n_treatment) == (n1, n2)
            assert row.estimate == pytest.approx(contrast.estimate / sd * j, rel=1e-12)
            assert row.ci_lower == pytest.approx(contrast.ci_lower / sd * j, rel=1e-12)
            assert row.ci_upper == pytest.approx(contrast.ci_upper / sd * j, rel=1e-12)


def _toy_analysis(treatment_changes, reference_changes, baseline=40.0):
    rows = []
    for arm, changes in (("ketamine", treatment_changes), ("midazolam", reference_changes)):
        for i, change in enumerate(changes):
            participant = f"{arm[:3]}-{i}"
            base = baseline + i  # baselines vary so that the baseline SD is not zero
            rows.append({"participant": participant, "arm": arm, "visit": "baseline", "outcome": "QOL",
                         "baseline": base, "score": base, "change": 0.0})
            rows.append({"participant": participant, "arm": arm, "visit": "30d", "outcome": "QOL",
                         "baseline": base, "score": base + change, "change": change})
    return pd.DataFrame(rows)


def _toy_config(better):
    return {"arms": {"reference": "midazolam", "treatment": "ketamine"},
            "visits": {"baseline": "baseline", "order": ["baseline", "30d"], "key": ["30d"]},
            "outcomes": [{"name": "QOL", "better": better, "primary": True, "role": "efficacy"}],
            "analysis": {"alpha": 0.05}}


@pytest.mark.parametrize("better", ["lower", "higher"])
def test_sign_is_treatment_minus_reference_whatever_is_better(better):
    """The sign never follows `better`: treatment changes larger than reference give g > 0 both
    for a higher-is-better scale (benefit) and a lower-is-better one (harm)."""
    analysis = _toy_analysis([8, 10, 12, 9, 11], [1, 3, 2, 0, 4])
    config = _toy_config(better)
    contrasts = pd.DataFrame([{"outcome": "QOL", "model": "mmrm", "visit": "30d", "estimate": 8.0,
                               "std_error": 1.0, "df": 7.0, "ci_lower": 5.6, "ci_upper": 10.4, "p_value": 0.001}])
    table = effect_sizes(analysis, contrasts, config).set_index("method")
    assert table.loc["observed_change", "estimate"] > 0
    assert table.loc["mmrm_over_baseline_sd", "estimate"] > 0
    flipped = _toy_analysis([1, 3, 2, 0, 4], [8, 10, 12, 9, 11])
    assert effect_sizes(flipped, contrasts, config).set_index("method").loc["observed_change", "estimate"] == \
        pytest.approx(-table.loc["observed_change", "estimate"])


def test_mechanism_outcomes_are_skipped(demo):
    config, analysis, contrasts = demo
    config = copy.deepcopy(config)
    config["outcomes"][2]["role"] = "mechanism"
    table = effect_sizes(analysis, contrasts, config)
    assert "MADRS" not in set(table["outcome"]) and len(table) == 2 * 3 * 2


def test_missing_mmrm_contrast_gives_nan_not_an_error(demo):
    config, analysis, contrasts = demo
    partial = contrasts[~((contrasts.outcome == "PCL-5") & (contrasts.visit == "7d"))]
    table = effect_sizes(analysis, partial, config)
    row = table[(table.outcome == "PCL-5") & (table.visit == "7d")].set_index("method")
    assert np.isnan(row.loc["mmrm_over_baseline_sd", "estimate"])
    assert np.isfinite(row.loc["observed_change", "estimate"])


def test_pooled_sd_formula_and_the_table_accepts_the_trial(demo, demo_trial):
    reference, treatment = [3.0, 4.0, 5.0, 6.0, 7.0], [1.0, 2.0, 3.0, 4.0]
    expected = np.sqrt((4 * np.var(reference, ddof=1) + 3 * np.var(treatment, ddof=1)) / 7)
    assert pooled_sd(reference, treatment) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(pooled_sd([1.0], treatment))
    config, analysis, contrasts = demo
    pd.testing.assert_frame_equal(effect_sizes(analysis, contrasts, demo_trial),
                                  effect_sizes(analysis, contrasts, config))
