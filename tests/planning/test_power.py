"""Planning the definitive trial (pilottrial.planning): the batched MMRM against fit_mmrm, shards,
power under the null, the analytic formulas, the smallest-n logic and determinism. The power
rules run end to end (local shards and SLURM) in tests/workflow/test_power_workflow.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from scipy import stats

from pilottrial import planning
from pilottrial.errors import InputError
from pilottrial.models.mmrm import fit_mmrm, monotone
from pilottrial.planning import simulation


# ------------------------------------------------------------------------------------------
# the batched fit is the primary MMRM
# ------------------------------------------------------------------------------------------
def _reference_fit(trials, t, plan):
    """fit_mmrm on trial t, with the Satterthwaite df also from a central-difference Hessian
    (fit_mmrm's own uses forward differences, ~1e-6 relative)."""
    frame = planning.trial_frame(trials, t, plan)
    formula = "change ~ baseline + arm * visit" if len(plan.visits) > 1 else "change ~ baseline + arm"
    fit = fit_mmrm(frame, formula, subject="participant", visit="visit",
                   covariance="us", method="reml", df_method="satterthwaite")
    row = fit.treatment_contrasts("arm", plan.arms[0], plan.arms[1], visit="visit").iloc[plan.visit_index]
    L = np.zeros(len(fit.beta))
    L[fit.terms.index("arm[T.treatment]")] = 1.0
    if plan.visit_index > 0:
        L[fit.terms.index(f"arm[T.treatment]:visit[T.{plan.visit}]")] = 1.0
    df_central = fit.with_central_hessian().contrast(L[None])["df"].iloc[0]  # central differences, ~1e-10
    return row, df_central, fit


@pytest.mark.parametrize("n_visits, n_per_arm, hazard, visit",
                         [(4, 40, 0.12, 3), (3, 15, 0.2, 2), (4, 30, 0.1, 1), (1, 20, 0.0, 0), (6, 60, 0.05, 5)])
def test_batch_fit_matches_fit_mmrm_estimates_se_df(n_visits, n_per_arm, hazard, visit):
    plan = planning.example_plan(n_visits=n_visits, n_per_arm=[n_per_arm], hazard=hazard)
    plan.visit = plan.visits[visit]
    trials = planning.simulate_trials(plan, n_per_arm, -1.5, planning.trial_streams(7, n_per_arm, 0, 6))
    batch = monotone.fit_monotone_batch(trials, plan.visit_index)
    assert (batch.status == 0).all()
    for t in range(6):
        row, df_central, fit = _reference_fit(trials, t, plan)
        assert batch.estimate[t] == pytest.approx(row["estimate"], rel=1e-6)
        assert batch.std_error[t] == pytest.approx(row["std_error"], rel=1e-6)
        assert batch.df[t] == pytest.approx(df_central, rel=1e-6)
        # fit_mmrm reports df from a forward-difference Hessian (error ~1e-6 to 1e-5 relative)
        assert batch.df[t] == pytest.approx(row["df"], rel=2e-5)
        assert batch.p_value[t] == pytest.approx(row["p_value"], rel=1e-5)
        assert batch.neg2_loglik[t] == pytest.approx(fit.neg2_loglik, rel=1e-10)
        np.testing.assert_allclose(batch.sigma[t], fit.sigmas[0], rtol=1e-6)


def test_trial_the_batch_cannot_fit_goes_to_fit_mmrm(monkeypatch):
    plan = planning.example_plan(n_per_arm=[20], hazard=0.1)
    trials = planning.simulate_trials(plan, 20, -2.0, planning.trial_streams(3, 20, 0, 4))
    direct = planning.fit_trials(trials, plan)
    original = monotone.fit_monotone_batch

    def failing_second(trials_, visit):
        out = original(trials_, visit)
        out.status[1] = 2
        return out

    monkeypatch.setattr(simulation, "fit_monotone_batch", failing_second)
    routed = planning.fit_trials(trials, plan)
    assert list(routed["fitter"]) == ["batch us", "fit_mmrm us", "batch us", "batch us"]
    for column in ("estimate", "std_error", "p_value"):
        assert routed[column].to_numpy() == pytest.approx(direct[column].to_numpy(), rel=1e-6)


def test_small_trials_with_heavy_dropout_always_get_an_analysis_or_a_reason():
    """Where the unstructured fit fails (10 per arm, a third dropping out at each visit), the
    trial is refitted by fit_mmrm with the fallback chain, or marked failed with the reason."""
    plan = planning.example_plan(n_per_arm=[10], hazard=0.35)
    trials = planning.simulate_trials(plan, 10, -2.0, planning.trial_streams(9, 10, 0, 20))
    fits = planning.fit_trials(trials, plan)
    kinds = fits["fitter"].str.split(":").str[0]
    assert set(kinds) <= {"batch us", "fit_mmrm us", "fit_mmrm toeph", "fit_mmrm ar1", "fit_mmrm cs", "failed"}
    assert (kinds == "batch us").sum() >= 5 and kinds.str.startswith("fit_mmrm").sum() >= 3
    fitted = kinds != "failed"
    assert np.isfinite(fits.loc[fitted, ["estimate", "std_error", "df", "p_value"]].to_numpy()).all()
    assert fits.loc[~fitted, "p_value"].isna().all()


def test_trial_without_participants_at_a_visit_fails_and_counts_as_not_significant():
    plan = planning.example_plan(n_per_arm=[5], hazard=0.0)
    trials = planning.simulate_trials(plan, 5, -2.0, planning.trial_streams(3, 5, 0, 3))
    trials.change[1, trials.arm == 1, 3] = np.nan  # nobody of the treatment arm at the last visit
    batch = monotone.fit_monotone_batch(trials, 3)
    assert list(batch.status) == [0, 1, 0]
    fits = planning.fit_trials(trials, plan)
    assert fits["fitter"].iloc[1].startswith("failed")
    assert np.isnan(fits["p_value"].iloc[1])


# ------------------------------------------------------------------------------------------
# shards, streams, determinism
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_effect_plan():
    plan = planning.example_plan(n_per_arm=[10, 24], n_sims=250, hazard=0.1)
    plan.effects = [{"source": "null", "value": 0.0}, {"source": "fixed -2", "value": -2.0}]
    return plan


@pytest.fixture(scope="module")
def one_shard(two_effect_plan):
    return planning.combine_shards([planning.simulate_shard(two_effect_plan, 0, 1)], two_effect_plan)


@pytest.mark.parametrize("n_shards", [2, 4, 7])
def test_results_identical_whatever_the_number_of_shards(two_effect_plan, one_shard, n_shards):
    shards = [planning.simulate_shard(two_effect_plan, i, n_shards) for i in range(n_shards)]
    assert sum(len(s) for s in shards) == len(one_shard) == 2 * 2 * 250
    gathered = planning.combine_shards(shards[::-1], two_effect_plan)  # order of the files is irrelevant
    pd.testing.assert_frame_equal(gathered, one_shard, check_exact=True)
    curve_1, sizes_1 = planning.power_curve(one_shard, two_effect_plan)
    curve_k, sizes_k = planning.power_curve(gathered, two_effect_plan)
    pd.testing.assert_frame_equal(curve_1, curve_k, check_exact=True)
    pd.testing.assert_frame_equal(sizes_1, sizes_k, check_exact=True)


def test_shards_partition_the_chunks(two_effect_plan):
    all_chunks = planning.shard_tasks(two_effect_plan, 0, 1)
    assert len(all_chunks) == 2 * 2 * math.ceil(250 / planning.CHUNK)  # 250 simulations per effect and n
    for n_shards in (2, 3, 5, 20):
        parts = [planning.shard_tasks(two_effect_plan, i, n_shards) for i in range(n_shards)]
        assert sorted(c for p in parts for c in p) == sorted(all_chunks)
    with pytest.raises(ValueError):
        planning.shard_tasks(two_effect_plan, 2, 2)


def test_missing_or_repeated_shards_are_refused(two_effect_plan, one_shard):
    with pytest.raises(ValueError, match="missing"):
        planning.combine_shards([one_shard.iloc[:-3]], two_effect_plan)
    with pytest.raises(ValueError, match="more than one shard"):
        planning.combine_shards([one_shard, one_shard.iloc[:5]], two_effect_plan)


def test_trial_streams_are_spawned_from_the_seed_by_n_and_simulation():
    streams = planning.trial_streams(11, 30, 5, 8)
    spawned = np.random.SeedSequence(11).spawn(31)[30].spawn(8)[5:8]
    for mine, theirs in zip(streams, spawned):
        assert np.array_equal(mine.generate_state(4), theirs.generate_state(4))
    # a simulation's stream does not depend on which others are drawn with it
    alone = planning.trial_streams(11, 30, 6, 7)[0]
    assert np.array_equal(alone.generate_state(4), streams[1].generate_state(4))


def test_a_trial_does_not_depend_on_the_grid_or_the_number_of_simulations(two_effect_plan, one_shard):
    wider = planning.example_plan(n_per_arm=[10, 16, 24], n_sims=120, hazard=0.1)
    wider.effects = two_effect_plan.effects
    extra = planning.combine_shards([planning.simulate_shard(wider, 0, 1)], wider)
    keep = ["effect_source", "n_per_arm", "simulation"]
    merged = one_shard.merge(extra, on=keep, suffixes=("", "_wider"))
    assert len(merged) == 2 * 2 * 120
    assert (merged["estimate"] == merged["estimate_wider"]).all()


def test_simulation_is_deterministic(two_effect_plan, one_shard):
    again = planning.combine_shards([planning.simulate_shard(two_effect_plan, 0, 1)], two_effect_plan)
    pd.testing.assert_frame_equal(again, one_shard, check_exact=True)
    other_seed = planning.example_plan(n_per_arm=[10, 24], n_sims=250, hazard=0.1, seed=1)
    other_seed.effects = two_effect_plan.effects
    different = planning.simulate_chunk(other_seed, 1, 10, 0, 5)
    assert not np.allclose(different["estimate"], one_shard["estimate"].iloc[:5])


def test_effects_share_their_random_streams(one_shard):
    """Common random numbers: the two effects' trials differ by the effect only, so their
    estimates differ by the effect (up to the convergence of the REML fit)."""
    null = one_shard[one_shard["effect_source"] == "null"].reset_index(drop=True)
    shifted = one_shard[one_shard["effect_source"] == "fixed -2"].reset_index(drop=True)
    np.testing.assert_allclose(shifted["estimate"] - null["estimate"], -2.0, atol=1e-6)
    np.testing.assert_allclose(shifted["std_error"], null["std_error"], rtol=1e-6)


# ------------------------------------------------------------------------------------------
# statistical behaviour
# ------------------------------------------------------------------------------------------
def test_power_under_the_null_is_alpha_within_monte_carlo_error():
    plan = planning.example_plan(n_per_arm=[20, 50], n_sims=1000, effect=0.0, hazard=0.1)
    sims = planning.combine_shards([planning.simulate_shard(plan, 0, 1)], plan)
    curve, _ = planning.power_curve(sims, plan)
    simulated = curve[curve["method"] == "simulation"]
    assert (simulated["n_failed"] == 0).all()
    for _, row in simulated.iterrows():
        lower, upper = planning.clopper_pearson(row["power"] * row["n_sims"], row["n_sims"], level=0.999)
        assert lower <= plan.alpha <= upper, row.to_dict()
    # and the analytic formulas give alpha at no effect
    assert curve.loc[curve["method"] != "simulation", "power"].to_numpy() == pytest.approx(plan.alpha, rel=1e-6)


def test_power_without_dropout_is_close_to_the_t_formula():
    plan = planning.example_plan(n_visits=3, n_per_arm=[15, 30, 60], n_sims=1000, effect=-1.6, hazard=0.0)
    sims = planning.combine_shards([planning.simulate_shard(plan, 0, 1)], plan)
    curve, _ = planning.power_curve(sims, plan)
    simulated = curve[curve["method"] == "simulation"].set_index("n_per_arm")["power"]
    t_formula = curve[curve["method"] == "analytic_t"].set_index("n_per_arm")["power"]
    for n in plan.n_per_arm:
        mc_se = np.sqrt(t_formula[n] * (1 - t_formula[n]) / plan.n_sims)
        assert abs(simulated[n] - t_formula[n]) < 3.5 * mc_se + 0.01, (n, simulated[n], t_formula[n])
    assert simulated.is_monotonic_increasing


def test_lu_variance_factor_is_the_inverse_fisher_information():
    """Lu, Luo & Chen (2008): the closed form equals [I^-1]_vv with I = sum_k p_k D_k' S_k^-1 D_k,
    p_k the share of participants observed at exactly the first k visits."""
    rng = np.random.default_rng(4)
    for m in (1, 2, 4, 5):
        A = rng.normal(size=(m, m))
        sigma = A @ A.T + m * np.eye(m)
        retention = np.cumprod(np.concatenate([[1.0], rng.uniform(0.6, 0.95, m - 1)]))
        share = retention - np.append(retention[1:], 0.0)
        info = sum(share[k] * np.pad(np.linalg.inv(sigma[: k + 1, : k + 1]), (0, m - k - 1)) for k in range(m))
        inverse = np.linalg.inv(info)
        for v in range(m):
            # the full information, and the marginal one of visits 1..v (later visits add
            # nothing about the mean at v: the monotone likelihood factorizes)
            assert planning.lu_variance_factor(sigma, retention, v) == pytest.approx(inverse[v, v], rel=1e-9)
            marginal = sum(share[k] * np.pad(np.linalg.inv(sigma[: min(k, v) + 1, : min(k, v) + 1]),
                                             (0, v - min(k, v))) for k in range(m))
            assert planning.lu_variance_factor(sigma, retention, v) == pytest.approx(np.linalg.inv(marginal)[v, v],
                                                                                rel=1e-9)
    # no dropout: the variance of one visit, whatever the correlations
    assert planning.lu_variance_factor(sigma, np.ones(5), 2) == pytest.approx(sigma[2, 2])


def test_t_formula_is_the_noncentral_t():
    plan = planning.example_plan(n_visits=2, n_per_arm=[30], hazard=0.0)
    sd = np.sqrt(plan.sigma[1][1])
    nc = 1.2 / (sd * np.sqrt(2 / 30))
    crit = stats.t.ppf(0.975, 57)
    expected = stats.nct.sf(crit, 57, nc) + stats.nct.cdf(-crit, 57, nc)
    assert planning.analytic_power(plan, 30, -1.2, "analytic_t") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method", ["analytic_mmrm", "analytic_t"])
def test_analytic_sample_size_is_the_first_n_reaching_the_target(method):
    plan = planning.example_plan(n_per_arm=[20], hazard=0.08)
    for target in (0.8, 0.9):
        n = planning.analytic_sample_size(plan, -1.0, target, method)
        assert planning.analytic_power(plan, n, -1.0, method) >= target > planning.analytic_power(plan, n - 1, -1.0, method)
    assert planning.analytic_sample_size(plan, 0.0, 0.8, method) is None


def test_smallest_n_needs_every_larger_n_to_reach_the_target():
    grid = [10, 20, 30, 40, 50, 60]
    assert planning.smallest_n(grid, [0.5, 0.7, 0.82, 0.79, 0.85, 0.9], 0.8) == 50  # MC dip at 40
    assert planning.smallest_n(grid, [0.5, 0.7, 0.8, 0.81, 0.85, 0.9], 0.8) == 30  # equal counts
    assert planning.smallest_n(grid, [0.85] * 6, 0.8) == 10
    assert planning.smallest_n(grid, [0.1, 0.2, 0.3, 0.4, 0.5, 0.79], 0.8) is None
    assert planning.smallest_n(grid[::-1], [0.9, 0.85, 0.79, 0.82, 0.7, 0.5], 0.8) == 50  # any order


def test_simulated_dropout_follows_the_hazard():
    plan = planning.example_plan(n_per_arm=[400], hazard=0.1)
    plan.hazard = [[0.05, 0.1, 0.0, 0.2], [0.0, 0.05, 0.05, 0.1]]
    trials = planning.simulate_trials(plan, 400, -1.0, planning.trial_streams(5, 400, 0, 20))
    observed = ~np.isnan(trials.change)
    assert not (observed[:, :, 1:] & ~observed[:, :, :-1]).any(), "monotone"
    for a in (0, 1):
        share = observed[:, trials.arm == a].mean(axis=(0, 1))
        np.testing.assert_allclose(share, plan.retention[a], atol=0.02)


# ------------------------------------------------------------------------------------------
# the plan from the pilot, the tables and the figure
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(demo_config, demo_analysis):
    return demo_config, demo_analysis


def test_plan_from_the_pilot(demo):
    from pilottrial.models.primary import fit_outcome_mmrm

    config, analysis = demo
    config = dict(config, power={"enabled": True, "effect": ["pilot", "pilot_conservative", 9],
                                 "variance_inflation": "ucl90", "n_per_arm": [40, 20], "n_sims": 10})
    plan = planning.pilot_plan(analysis, config)
    fit = fit_outcome_mmrm(analysis, plan.outcome, config)
    assert plan.visits == list(fit.visits) and plan.visit == config["visits"]["key"][-1]
    np.testing.assert_allclose(plan.pilot_sigma, fit.sigmas[0])
    nu = plan.pilot["n_at_visit"] - 3
    assert plan.inflation_factor == pytest.approx(nu / stats.chi2.ppf(0.10, nu))
    np.testing.assert_allclose(plan.sigma, np.asarray(fit.sigmas[0]) * plan.inflation_factor)
    assert plan.n_per_arm == [20, 40]
    contrast = fit.treatment_contrasts("arm", *plan.arms, visit="visit").iloc[plan.visit_index]
    values = {e["source"]: e["value"] for e in plan.effects}
    assert values["pilot"] == pytest.approx(contrast["estimate"])
    half = stats.t.ppf(0.9, contrast["df"]) * contrast["std_error"]
    assert abs(values["pilot_conservative"]) == pytest.approx(abs(contrast["estimate"]) - half)
    assert values["fixed 9"] == 9.0
    # dropout: each arm's hazard reproduces the share with a change at each visit (monotone data)
    rows = analysis[(analysis["outcome"] == plan.outcome) & analysis["visit"].isin(plan.visits)]
    for a, arm in enumerate(plan.arms):
        wide = rows[rows["arm"] == arm].pivot(index="participant", columns="visit", values="change")[plan.visits]
        last_seen = wide.notna().to_numpy()[:, ::-1].cumsum(axis=1)[:, ::-1] > 0
        np.testing.assert_allclose(plan.retention[a], last_seen.mean(axis=0))
    assert planning.PowerPlan.from_json(plan.to_json()) == plan


def test_settings_defaults_and_errors(demo):
    config, _ = demo
    settings = planning.power_settings(dict(config, power={"enabled": True, "effect": "pilot"}))
    assert settings["effect"] == ["pilot"] and settings["n_sims"] == 1000 and settings["shards"] == 4
    assert settings["target_power"] == [0.8, 0.9] and settings["alpha"] == config["analysis"]["alpha"]
    assert settings["outcome"] == next(o["name"] for o in config["outcomes"] if o.get("primary"))
    no_mcid = dict(config, outcomes=[{k: v for k, v in o.items() if k != "mcid"} for o in config["outcomes"]])
    with pytest.raises(InputError, match="mcid"):
        planning.power_settings(dict(no_mcid, power={"enabled": True}))
    for bad in ({"n_per_arm": [2]}, {"effect": "huge"}, {"visit": "baseline"}, {"outcome": "BDI"},
                {"target_power": [1.2]}, {"variance_inflation": "double"}):
        with pytest.raises(InputError, match="power"):
            planning.power_settings(dict(config, power={"enabled": True, "effect": "pilot", **bad}))


def test_curve_and_sample_size_tables_and_figure(two_effect_plan, one_shard, tmp_path):
    from pilottrial.report.figures.power import plot_power_curve

    curve, sizes = planning.power_curve(one_shard, two_effect_plan)
    assert list(curve.columns[:7]) == ["n_per_arm", "power", "mc_lower", "mc_upper", "n_sims", "effect", "method"]
    assert list(curve.columns) == planning.CURVE_COLUMNS and list(sizes.columns) == planning.SAMPLE_SIZE_COLUMNS
    assert len(curve) == 2 * 3 * 2 and set(curve["method"]) == set(planning.METHODS)
    sim = curve[curve["method"] == "simulation"]
    assert (sim["n_sims"] == 250).all()
    assert (sim["mc_lower"] <= sim["power"]).all() and (sim["power"] <= sim["mc_upper"]).all()
    assert curve.loc[curve["method"] != "simulation", ["mc_lower", "mc_upper"]].isna().all().all()
    assert len(sizes) == 2 * 2 * 3
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in paths:
        plot_power_curve(curve, sizes, path, title="Y at V4", plan=two_effect_plan)
    data = [p.read_bytes() for p in paths]
    assert data[0].startswith(b"\x89PNG") and data[0] == data[1]
    assert b"Software" not in data[0] and b"matplotlib" not in data[0]
    text = planning.planning_summary(two_effect_plan, sizes)
    assert any("Lu, Luo & Chen" in p for p in text)


def test_shard_resources_grow_with_the_work():
    small = planning.shard_resources({"n_per_arm": [20, 40], "effect": ["mcid"], "n_sims": 1000, "shards": 4})
    big = planning.shard_resources({"n_per_arm": list(range(50, 1050, 50)), "effect": ["mcid", "pilot"],
                                 "n_sims": 5000, "shards": 4})
    assert small["runtime"] == 10 and big["runtime"] > small["runtime"] and big["mem_mb"] > small["mem_mb"]
    eight_visits = {"visits": {"order": ["baseline"] + [f"V{i}" for i in range(8)]}}
    more = planning.shard_resources({"n_per_arm": list(range(50, 1050, 50)), "effect": ["mcid", "pilot"],
                                  "n_sims": 5000, "shards": 4}, eight_visits)
    assert more["runtime"] > big["runtime"]


def test_benchmark_runs_on_a_tiny_workload(tmp_path, monkeypatch):
    """Smoke test of benchmarks/bench_power.py (no timing is checked here; make bench runs it)."""
    import importlib
    import json

    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))  # the shard processes import it too
    bench = importlib.import_module("bench_power")
    out = tmp_path / "power.json"
    bench.main(["--sims", "200", "--chunks", "1", "--reference-fits", "1", "--shards", "1", "2", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["fits"]["fits_per_second_per_core"] > 0
    assert [r["shards"] for r in saved["shards"]] == [1, 2] and all(r["identical_to_first"] for r in saved["shards"])
    assert {t["status"] for t in saved["targets"]} <= {"met", "not met", "not measured"}


def test_a_simulated_trial_does_not_depend_on_the_batch_it_is_fitted_in(two_effect_plan, monkeypatch):
    import pilottrial.planning.simulation as simulation

    keys = ["effect_source", "n_per_arm", "simulation"]
    results = []
    for chunk in (7, 100):
        monkeypatch.setattr(simulation, "CHUNK", chunk)
        results.append(simulation.simulate_shard(two_effect_plan, 0, 1).sort_values(keys).reset_index(drop=True))
    assert len(results[0]) == 2 * 2 * 250
    pd.testing.assert_frame_equal(results[0], results[1], check_exact=True)
