"""Planning the definitive trial from a pilot with three arms: the comparison planned for, its
per-comparison level (Dunnett / Tukey / Bonferroni against published critical values and an
independent multivariate-normal computation), the plan from the MMRM of all arms, and the
two-arm plan unchanged (no new keys)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from scipy import stats

from pilottrial import planning
from pilottrial.config import Trial, load_config
from pilottrial.data import load_trial
from pilottrial.errors import InputError
from pilottrial.models.primary import fit_outcome_mmrm
from pilottrial.planning.settings import comparison_alpha


@pytest.fixture(scope="module")
def three_arm():
    config = load_config(REPO_ROOT / "config" / "dose_ranging.yaml")
    return config, load_trial(config)


def with_power(config, **power):
    config = copy.deepcopy(config)
    config["power"] = {"enabled": True, "effect": ["mcid", "pilot"], "n_per_arm": [20, 40], "n_sims": 20,
                       "shards": 1, **power}
    return config


# ---- the per-comparison level --------------------------------------------------------------------
@pytest.mark.parametrize("n_arms, published", [(3, 2.21), (4, 2.35), (5, 2.44)])
def test_dunnett_critical_value_is_the_published_one(n_arms, published):
    """Dunnett (1955) two-sided table, df infinite, alpha 0.05: 2.21, 2.35, 2.44 for 2, 3, 4
    comparisons; and P(max |Z_i| <= c) = 0.95 for equicorrelated (rho 1/2) normals computed
    independently by scipy's multivariate normal CDF."""
    adjusted = comparison_alpha(0.05, n_arms, "vs_reference", "dunnett")
    assert adjusted["method"] == "dunnett" and adjusted["comparisons"] == n_arms - 1
    c = adjusted["critical_z"]
    assert c == pytest.approx(published, abs=0.006)
    m = n_arms - 1
    corr = np.full((m, m), 0.5) + 0.5 * np.eye(m)
    coverage = stats.multivariate_normal(np.zeros(m), corr).cdf(np.full(m, c), lower_limit=np.full(m, -c))
    assert coverage == pytest.approx(0.95, abs=2e-4)
    assert adjusted["alpha"] == pytest.approx(2 * stats.norm.sf(c), rel=1e-12)


def test_tukey_bonferroni_and_none():
    tukey = comparison_alpha(0.05, 3, "all_pairs", "dunnett")
    # studentized range q(0.95; 3, inf) = 3.314 (Harter 1960 tables)
    assert tukey["method"] == "tukey" and tukey["comparisons"] == 3
    assert tukey["critical_z"] * np.sqrt(2) == pytest.approx(3.314, abs=0.001)
    assert comparison_alpha(0.05, 3, "vs_reference", "holm")["alpha"] == pytest.approx(0.025)
    assert comparison_alpha(0.05, 4, "all_pairs", "holm")["alpha"] == pytest.approx(0.05 / 6)
    assert comparison_alpha(0.05, 3, "vs_reference", "none")["alpha"] == 0.05
    # Dunnett lies between no adjustment and Bonferroni
    assert 0.025 < comparison_alpha(0.05, 3)["alpha"] < 0.05


# ---- settings ------------------------------------------------------------------------------------
def test_comparison_setting_defaults_to_the_first_and_is_checked(three_arm, demo_config):
    config, _ = three_arm
    assert planning.power_settings(with_power(config))["comparison"] == "ketamine-0.2"
    assert planning.power_settings(with_power(config, comparison="ketamine-0.5"))["comparison"] == "ketamine-0.5"
    with pytest.raises(InputError, match="power.comparison"):
        planning.power_settings(with_power(config, comparison="ketamine"))
    # two arms: no comparison key, and only the treatment arm may be named
    two = planning.power_settings(with_power(demo_config))
    assert "comparison" not in two
    assert planning.power_settings(with_power(demo_config, comparison="ketamine")) == two
    with pytest.raises(InputError, match="power.comparison"):
        planning.power_settings(with_power(demo_config, comparison="midazolam"))


# ---- the plan --------------------------------------------------------------------------------------
def test_plan_for_one_comparison_of_three_arms(three_arm):
    config, analysis = three_arm
    settings = with_power(config, comparison="ketamine-0.5")
    plan = planning.pilot_plan(analysis, settings)
    assert plan.estimable, plan.not_estimable
    assert plan.arms == ["midazolam", "ketamine-0.5"] and plan.comparison == "ketamine-0.5"
    assert plan.adjustment["method"] == "dunnett" and plan.adjustment["comparisons"] == 2
    assert plan.alpha == pytest.approx(comparison_alpha(0.05, 3)["alpha"])
    # the differences are the comparison's contrasts in the MMRM of all arms
    fit = fit_outcome_mmrm(analysis, "CAPS-5", settings)
    assert list(fit.factor_levels["arm"]) == list(Trial.from_config(config).arms)
    contrasts = fit.treatment_contrasts("arm", "midazolam", "ketamine-0.5", visit="visit")
    np.testing.assert_allclose(plan.differences, contrasts["estimate"], rtol=1e-12)
    assert plan.pilot["estimate"] == pytest.approx(contrasts.set_index("visit").loc["30d", "estimate"])
    # dropout hazard of the two arms, from the raw file with pandas
    raw = pd.read_csv(config["data"]["path"])
    for a, arm in enumerate(plan.arms):
        wide = raw[raw.arm == arm].pivot(index="participant", columns="visit", values="caps5")[plan.visits]
        observed = wide.notna().to_numpy()
        last = np.where(observed.any(axis=1), observed.shape[1] - np.argmax(observed[:, ::-1], axis=1), 0)
        at_risk = [(last >= j).sum() for j in range(len(plan.visits))]
        expected = [((last == j).sum() / r) if r else 0.0 for j, r in enumerate(at_risk)]
        np.testing.assert_allclose(plan.hazard[a], expected)
    text = json.loads(plan.to_json())
    assert text["comparison"] == "ketamine-0.5" and text["adjustment"]["method"] == "dunnett"
    assert planning.PowerPlan.from_json(plan.to_json()) == plan
    # the simulations and the summary run on it, tested at the adjusted level
    sims = planning.combine_shards([planning.simulate_shard(plan, 0, 1)], plan)
    assert (sims.significant == (sims.p_value < plan.alpha)).all()
    curve, sizes = planning.power_curve(sims, plan)
    summary = " ".join(planning.planning_summary(plan, sizes))
    assert "ketamine-0.5 vs midazolam" in summary and "Dunnett" in summary


def test_two_arm_plan_has_no_comparison_keys(demo_config, demo_analysis):
    plan = planning.pilot_plan(demo_analysis, with_power(demo_config, effect=["mcid"]))
    text = json.loads(plan.to_json())
    assert "comparison" not in text and "adjustment" not in text
    assert plan.alpha == 0.05
