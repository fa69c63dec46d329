"""Posterior probabilities of benefit from the MMRM contrasts (pilottrial.analyses.bayes), against closed forms."""

import copy

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pilottrial.analyses.bayes import (
    POSTERIOR_COLUMNS,
    Z_95,
    posterior_probabilities,
    posterior_table,
    sceptical_prior_sd,
)
from pilottrial.config import Trial


@pytest.fixture(scope="module")
def demo(demo_config, demo_primary):
    return demo_config, demo_primary[0]


def _contrast(estimate, se, df, outcome="Y", visit="30d"):
    return pd.DataFrame([{"outcome": outcome, "model": "mmrm", "visit": visit, "estimate": estimate,
                          "std_error": se, "df": df, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan},
                         {"outcome": outcome, "model": "lmm", "visit": visit, "estimate": 99.0,
                          "std_error": 1.0, "df": 50.0, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan}])


def _config(better="lower", mcid=10.0, prior_sd=None):
    outcome = {"name": "Y", "better": better, "primary": True, "role": "efficacy"}
    if mcid is not None:
        outcome["mcid"] = mcid
    return {"visits": {"baseline": "baseline", "order": ["baseline", "30d"], "key": ["30d"]},
            "outcomes": [outcome],
            "analysis": {"sceptical_prior_sd": prior_sd, "df_method": "satterthwaite"}}


def test_flat_prior_probabilities_are_t_probabilities():
    """Flat prior, lower better: P(theta < 0) = F_t22(12/4), P(theta < -10) = F_t22((-10 + 12)/4)."""
    table = posterior_table(_contrast(-12.0, 4.0, 22.0), _config()).set_index("prior")
    flat = table.loc["flat"]
    assert flat.posterior_mean == -12.0 and flat.posterior_sd == 4.0
    assert flat.prob_benefit == pytest.approx(stats.t.cdf(3.0, 22.0), rel=1e-12)
    assert flat.prob_benefit_beyond_mcid == pytest.approx(stats.t.cdf(0.5, 22.0), rel=1e-12)
    assert np.isnan(flat.prior_mean) and np.isnan(flat.prior_sd)
    assert "t reference with Satterthwaite df" in flat.approximation


def test_sceptical_prior_conjugate_update_by_hand():
    """Prior N(0, 6^2), likelihood N(-12, 4^2): precision 1/36 + 1/16 = 13/144, so the posterior is
    N(-108/13, 144/13): mean -8.3077, SD 12/sqrt(13) = 3.3282; P(theta < 0) = Phi(9/sqrt(13))."""
    table = posterior_table(_contrast(-12.0, 4.0, 22.0), _config(prior_sd=6.0)).set_index("prior")
    sceptical = table.loc["sceptical"]
    assert (sceptical.prior_mean, sceptical.prior_sd) == (0.0, 6.0)
    assert sceptical.posterior_mean == pytest.approx(-108 / 13, rel=1e-12)
    assert sceptical.posterior_sd == pytest.approx(12 / np.sqrt(13), rel=1e-12)
    assert sceptical.prob_benefit == pytest.approx(stats.norm.cdf(9 / np.sqrt(13)), rel=1e-12)
    assert sceptical.prob_benefit_beyond_mcid == pytest.approx(
        stats.norm.cdf((-10 + 108 / 13) / (12 / np.sqrt(13))), rel=1e-12)
    assert "analysis.sceptical_prior_sd" in sceptical.approximation


def test_default_sceptical_prior_puts_5_percent_beyond_the_mcid():
    """Spiegelhalter et al. (1994): s = MCID / 1.645, so P_prior(theta < -MCID) = 0.05."""
    table = posterior_table(_contrast(-12.0, 4.0, 22.0), _config(mcid=10.0)).set_index("prior")
    s = table.loc["sceptical", "prior_sd"]
    assert s == pytest.approx(10.0 / 1.645, rel=1e-3)
    assert s == pytest.approx(10.0 / Z_95, rel=1e-12)
    assert stats.norm.cdf(-10.0, 0.0, s) == pytest.approx(0.05, rel=1e-10)
    assert "mcid / 1.645" in table.loc["sceptical", "approximation"]


def test_sceptical_posterior_is_shrunk_towards_zero():
    table = posterior_table(_contrast(-12.0, 4.0, 22.0), _config()).set_index("prior")
    assert -12.0 < table.loc["sceptical", "posterior_mean"] < 0.0
    assert table.loc["sceptical", "posterior_sd"] < 4.0
    assert table.loc["sceptical", "prob_benefit_beyond_mcid"] < table.loc["flat", "prob_benefit_beyond_mcid"]


def test_benefit_follows_better_higher():
    """Higher is better: P(theta > 0) = F_t(est/SE), P(theta > MCID) = F_t((est - MCID)/SE); the
    same estimate read on a lower-is-better scale gives the complement."""
    higher = posterior_table(_contrast(5.0, 2.5, 18.0), _config("higher", mcid=3.0)).set_index("prior")
    assert higher.loc["flat", "prob_benefit"] == pytest.approx(stats.t.cdf(2.0, 18.0), rel=1e-12)
    assert higher.loc["flat", "prob_benefit_beyond_mcid"] == pytest.approx(stats.t.cdf(0.8, 18.0), rel=1e-12)
    assert higher.loc["flat", "prob_benefit"] > 0.5
    lower = posterior_table(_contrast(5.0, 2.5, 18.0), _config("lower", mcid=3.0)).set_index("prior")
    assert lower.loc["flat", "prob_benefit"] == pytest.approx(1 - higher.loc["flat", "prob_benefit"], rel=1e-12)
    assert lower.loc["sceptical", "prob_benefit"] == pytest.approx(1 - higher.loc["sceptical", "prob_benefit"],
                                                                     rel=1e-12)


def test_no_mcid_and_no_prior_sd_marks_the_sceptical_row():
    table = posterior_table(_contrast(-12.0, 4.0, 22.0), _config(mcid=None)).set_index("prior")
    assert list(table.index) == ["flat", "sceptical"]
    assert np.isnan(table.loc["flat", "prob_benefit_beyond_mcid"]) and np.isnan(table.loc["flat", "mcid"])
    assert np.isfinite(table.loc["flat", "prob_benefit"])
    sceptical = table.loc["sceptical"]
    assert sceptical[["prior_sd", "posterior_mean", "posterior_sd", "prob_benefit"]].isna().all()
    assert sceptical.approximation.startswith("not computed")


def test_no_mcid_but_a_prior_sd_gives_a_sceptical_posterior_without_the_mcid_probability():
    table = posterior_table(_contrast(-12.0, 4.0, 22.0), _config(mcid=None, prior_sd=6.0)).set_index("prior")
    assert table.loc["sceptical", "posterior_mean"] == pytest.approx(-108 / 13)
    assert np.isnan(table.loc["sceptical", "prob_benefit_beyond_mcid"])


def test_demo_flat_probability_is_one_minus_the_one_sided_p_value(demo):
    """For estimate < 0 and lower better, P(theta < 0 | flat) = 1 - p/2 with the MMRM's two-sided t p-value."""
    config, contrasts = demo
    table = posterior_table(contrasts, config)
    flat = table[table["prior"] == "flat"]
    mmrm = contrasts[contrasts.model == "mmrm"].set_index(["outcome", "visit"])
    assert len(flat) == 3 * 2
    for row in flat.itertuples():
        contrast = mmrm.loc[(row.outcome, row.visit)]
        assert contrast.estimate < 0
        assert row.prob_benefit == pytest.approx(1 - contrast.p_value / 2, abs=1e-10)


def test_demo_end_to_end_with_mcids(demo):
    config, contrasts = demo
    config = copy.deepcopy(config)
    for outcome, mcid in zip(config["outcomes"], (10.0, 10.0, 6.0)):
        outcome["mcid"] = mcid
    table = posterior_table(contrasts, config)
    assert list(table.columns) == POSTERIOR_COLUMNS
    assert len(table) == 3 * 2 * 2
    assert list(table["prior"]) == ["flat", "sceptical"] * 6
    sceptical = table[table.prior == "sceptical"]
    numbers = ["prior_mean", "prior_sd", "posterior_mean", "posterior_sd", "prob_benefit", "mcid",
               "prob_benefit_beyond_mcid"]
    assert np.isfinite(sceptical[numbers].to_numpy(dtype=float)).all()
    flat = table[table.prior == "flat"]
    assert np.isfinite(flat[["posterior_mean", "posterior_sd", "prob_benefit", "prob_benefit_beyond_mcid"]]
                       .to_numpy(dtype=float)).all()
    assert ((table.prob_benefit_beyond_mcid <= table.prob_benefit) & (table.prob_benefit <= 1)).all()


def test_posterior_probabilities_are_the_rows_of_the_table(demo):
    """The primitive on one MMRM contrast gives the table's two rows for it; the table accepts the Trial."""
    config, contrasts = demo
    config = copy.deepcopy(config)
    config["outcomes"][0]["mcid"] = 10.0
    table = posterior_table(contrasts, Trial.from_config(config))
    pd.testing.assert_frame_equal(table, posterior_table(contrasts, config))
    contrast = contrasts[(contrasts.model == "mmrm") & (contrasts.outcome == "CAPS-5")
                         & (contrasts.visit == "30d")].iloc[0]
    rows = posterior_probabilities(contrast.estimate, contrast.std_error, contrast.df, better="lower", mcid=10.0)
    expected = table[(table.outcome == "CAPS-5") & (table.visit == "30d")].drop(columns=["outcome", "visit"])
    pd.testing.assert_frame_equal(rows, expected.reset_index(drop=True))


def test_sceptical_prior_sd_is_mcid_over_z95_unless_chosen():
    assert sceptical_prior_sd(mcid=10.0) == pytest.approx(10.0 / 1.6448536269514722)
    assert sceptical_prior_sd(mcid=10.0, prior_sd=3.0) == 3.0
    assert np.isnan(sceptical_prior_sd())
