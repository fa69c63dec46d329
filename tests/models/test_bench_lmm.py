"""Smoke tests of the LMM benchmark (benchmarks/bench_lmm.py) on small trials.

They check the benchmark's pieces (simulation, comparison with lme4, targets), never how fast
anything is: there are no timing thresholds here (the benchmark runs with ``make bench``).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_benchmark, require_r


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_lmm")


def test_simulated_trial(bench):
    a, b = bench.simulate_lmm_trial(200), bench.simulate_lmm_trial(200)
    assert a.equals(b)
    assert a["participant"].nunique() == 200
    assert (a.groupby("participant")["visit"].min() == "VIS1").all()
    assert 0.05 < 1 - len(a) / 800 < 0.1  # 10% of visits 2-4 missing


def test_compare_and_targets(bench):
    ours = {"fixef": [1.0, 2.0], "sigma_u2": 4.0, "sigma2": 4.0, "neg2_reml": 100.0}
    ref = {"fixef": [1.0, 2.0 * (1 + 2e-6)], "sigma_u2": 4.0 * (1 + 1e-6), "sigma2": 4.0, "neg2_reml": 100.0 + 1e-7}
    d = bench.compare(ours, ref)
    assert d["fixed_effects_max_rel"] == pytest.approx(2e-6 / (1 + 2e-6))
    assert d["sigma_u2_rel"] == pytest.approx(1e-6, rel=1e-3)
    assert d["neg2_reml_abs"] == pytest.approx(1e-7, rel=1e-3)
    result = {"n_participants": 10, "ours": {"median_s": 3.0}, "lme4": {"ok": True, "median_s": 1.0},
              "vs_lme4_tight": d}
    rows = bench.evaluate_targets(result)
    assert [r["status"] for r in rows] == ["not met", "not met"]  # 3 s > 2 s; fixed effects 2e-6 > 1e-6
    result["ours"]["median_s"] = 0.5
    result["vs_lme4_tight"] = dict(d, fixed_effects_max_rel=1e-7)
    assert [r["status"] for r in bench.evaluate_targets(result)] == ["met", "met"]
    assert bench.compare(ours, {**ref, "fixef": [1.0]}).get("error")
    result["lme4"] = {"ok": False}
    assert [r["status"] for r in bench.evaluate_targets(result)] == ["met", "not measured"]


def test_section_without_r(bench):
    result = bench.run(participants=60, repeats=1, with_r=False, progress=lambda m: None)
    assert result["ours"]["n_participants"] == 60
    assert len(result["ours"]["fixef"]) == 10 and np.isfinite(result["ours"]["neg2_reml"])
    assert result["lme4"]["ok"] is False
    assert [t["status"] for t in result["targets"]] == ["met", "not measured"]


@pytest.mark.r
def test_lme4_script_matches_our_fit(bench, tmp_path):
    """bench_lmm.R runs lme4 on the same rows; its estimates equal ours (as the LMM parity tests)."""
    require_r("lme4")
    frame = bench.simulate_lmm_trial(200, seed=2)
    frame.to_csv(tmp_path / "trial.csv", index=False)
    r = bench.run_lme4(tmp_path / "trial.csv", repeats=1, warmup=0, timeout=300)
    assert r["ok"], r
    assert r["n_obs"] == len(frame) and len(r["times_s"]) == 1
    ours = bench.time_ours(frame, repeats=1, warmup=0)
    d = bench.compare(ours, r["tight"])
    assert d["fixed_effects_max_rel"] < 1e-6
    assert d["sigma_u2_rel"] < 1e-5 and d["sigma2_rel"] < 1e-5
    assert d["neg2_reml_abs"] < 1e-6
