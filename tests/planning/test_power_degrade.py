"""Planning from a pilot that cannot give a plan (its MMRM does not fit, no data at power.visit):
a plan that says why, no simulation, and a sample-size table whose rows say "not estimable:
<reason>" -- never a crash (issue 14, item 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_trials import QOL, SYMPTOMS, tiny_trial

from pilottrial import planning
from pilottrial.models import primary
from pilottrial.models.mmrm import MMRMError
from pilottrial.planning import settings as plan_settings

POWER = {"enabled": True, "effect": ["mcid", "pilot"], "n_per_arm": [10, 20], "n_sims": 100, "shards": 2}


@pytest.fixture
def tiny(tmp_path):
    return tiny_trial(tmp_path, n_per_arm=4, extra={"power": POWER})


def _check_not_estimable(plan, reason: str) -> None:
    assert not plan.estimable and plan.not_estimable == reason
    again = planning.PowerPlan.from_json(plan.to_json())
    assert again == plan and json.loads(plan.to_json())["not_estimable"] == reason
    sims = planning.combine_shards([planning.simulate_shard(plan, i, 2) for i in range(2)], plan)
    assert list(sims.columns) == planning.SHARD_COLUMNS and sims.empty
    curve, sizes = planning.power_curve(sims, plan)
    assert list(curve.columns) == planning.CURVE_COLUMNS and curve.empty
    assert list(sizes.columns) == planning.SAMPLE_SIZE_COLUMNS + ["note"]
    assert len(sizes) == 2 * 2 * 3  # effects x target powers x methods
    assert (sizes["note"] == reason).all() and (sizes["reached"] == "no").all()
    assert sizes["n_per_arm"].isna().all() and sizes["power"].isna().all()
    assert planning.planning_summary(plan, sizes)[0].endswith(f"{reason}.")


def test_a_pilot_mmrm_that_does_not_fit_gives_a_plan_that_says_why(tiny, monkeypatch):
    config, analysis = tiny

    def no_fit(*args, **kwargs):
        raise MMRMError("the MMRM did not converge with any covariance structure")

    monkeypatch.setattr(primary, "fit_outcome_mmrm", no_fit)  # the plan imports it when it fits
    plan = planning.pilot_plan(analysis, config)
    _check_not_estimable(plan, f"not estimable: the pilot's MMRM of {SYMPTOMS} gives no plan (the MMRM did not "
                               f"converge with any covariance structure)")
    effects = {e["source"]: e["value"] for e in plan.effects}
    assert effects == {"mcid": -6.0, "pilot": None}  # the config's MCID is known, the pilot's estimate is not


def test_an_outcome_without_data_at_the_power_visit(tmp_path):
    config, analysis = tiny_trial(tmp_path, n_per_arm=4, extra={"power": POWER | {"outcome": QOL}})
    plan = planning.pilot_plan(analysis, config)
    _check_not_estimable(plan, f"not estimable: {QOL} has no change from baseline at power.visit v2")
    assert {e["source"]: e["value"] for e in plan.effects}["mcid"] == 10.0  # higher is better


def test_estimates_that_are_not_finite_give_no_plan(tiny, monkeypatch):
    config, analysis = tiny
    fitted = plan_settings._fitted_plan

    def nan_slope(*args):
        plan = fitted(*args)
        plan.baseline_sd = float("nan")
        return plan

    monkeypatch.setattr(plan_settings, "_fitted_plan", nan_slope)
    plan = planning.pilot_plan(analysis, config)
    assert plan.not_estimable.startswith(f"not estimable: the pilot's MMRM of {SYMPTOMS} gives an estimate, SE, "
                                         f"df or covariance that is not finite")


def test_a_plan_that_could_be_made_is_written_as_before(tiny):
    config, analysis = tiny
    plan = planning.pilot_plan(analysis, config)
    assert plan.estimable and np.isfinite(plan.pilot["estimate"])
    assert "not_estimable" not in json.loads(plan.to_json())
    assert planning.PowerPlan.from_json(plan.to_json()).estimable
