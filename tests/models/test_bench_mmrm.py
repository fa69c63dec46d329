"""Smoke tests of the MMRM benchmark (benchmarks/bench_mmrm.py) on tiny inputs.

These check that the benchmark's pieces work, never how fast anything is: there are no
timing thresholds here (the benchmark itself is run by ``make bench``).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT, load_benchmark

BENCH_PATH = REPO_ROOT / "benchmarks" / "bench_mmrm.py"


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_mmrm")


@pytest.fixture(scope="module")
def small_fit(bench):
    data = bench.simulate_trial(27)
    return data, bench.time_case(data, bench.SIM_CASE, repeats=1, label="test")


@pytest.mark.parametrize("n", [2, 27, 200])
def test_simulated_trial_has_requested_subjects(bench, n):
    data = bench.simulate_trial(n)
    assert data["USUBJID"].nunique() == n
    assert len(data) == 4 * n
    assert list(data["AVISIT"].cat.categories) == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert list(data["ARMCD"].cat.categories) == ["PBO", "TRT"]
    assert set(data["ARMCD"]) == {"PBO", "TRT"}
    assert data.groupby("USUBJID")["ARMCD"].nunique().max() == 1


def test_simulated_dropout_is_monotone_and_about_15_percent(bench):
    data = bench.simulate_trial(2000)
    wide = data.pivot(index="USUBJID", columns="AVISIT", values="Y")
    observed = wide.notna().to_numpy()
    assert observed[:, 0].all(), "every subject has the first visit"
    # monotone: once missing, missing at every later visit
    assert not (~observed[:, :-1] & observed[:, 1:]).any()
    dropped = (~observed).any(axis=1).mean()
    assert 0.12 < dropped < 0.18


def test_simulation_is_reproducible(bench):
    a, b = bench.simulate_trial(50), bench.simulate_trial(50)
    pd.testing.assert_frame_equal(a, b)
    c = bench.simulate_trial(50, seed=bench.SIM_SEED + 1)
    assert not np.allclose(a["Y"].fillna(0), c["Y"].fillna(0))


def test_one_fit_at_27_subjects_converges(small_fit):
    data, res = small_fit
    assert res["converged"]
    assert res["n_subjects"] == 27
    assert res["n_obs"] == int(data["Y"].notna().sum())
    assert res["n_cov_params"] == 10  # unstructured, 4 visits
    assert math.isfinite(res["neg2_reml_loglik"])
    assert len(res["contrast_df"]) == 4
    assert all(df > 0 for df in res["contrast_df"])
    assert res["repeats"] == 1 and len(res["times_s"]) == 1
    assert res["median_s"] >= res["fit_only_median_s"] > 0


def test_memory_child_reports_peak_rss(bench):
    out = bench.memory_child({"kind": "sim", "n_subjects": 27})
    assert out["peak_rss_mb"] > 0
    assert out["peak_rss_mb"] >= out["baseline_rss_mb"]
    assert math.isfinite(out["neg2_reml_loglik"])


def test_memory_measured_in_a_subprocess(bench):
    out = bench.measure_memory({"kind": "sim", "n_subjects": 27}, timeout=300)
    assert "error" not in out, out.get("error")
    assert out["peak_rss_mb"] > 10
    assert out["measure"] in ("VmHWM", "ru_maxrss")


def _fake_results(bench, small_fit):
    _, res = small_fit
    return {
        "schema_version": bench.SCHEMA_VERSION,
        "meta": {"repeats": 1},
        "fev_data": dict(res, median_s=0.010, fit_only_median_s=0.008),
        "bcva_data": dict(res, median_s=3.0),
        "memory": {"bcva_data": {"peak_rss_mb": 200.0}},
        "scaling": [dict(res, n_subjects=27)],
        "r_gls": {"available": True,
                  "fev_data": {"ok": True, "median_s": 0.3, "neg2_loglik": 1.0},
                  "bcva_data": {"ok": False, "skipped": "--no-r-bcva"}},
        "published": bench.PUBLISHED,
    }


def test_json_writer_produces_expected_keys(bench, small_fit, tmp_path):
    results = _fake_results(bench, small_fit)
    results["ratios"] = bench.compute_ratios(results)
    results["targets"] = bench.evaluate_targets(results)
    path = bench.write_json(results, tmp_path / "nested" / "mmrm.json")
    loaded = json.loads(path.read_text())
    assert set(bench.REQUIRED_KEYS) <= set(loaded)
    assert {"median_s", "min_s", "times_s", "neg2_reml_loglik", "n_subjects"} <= set(loaded["fev_data"])
    assert set(loaded["ratios"]) == {"fev_data", "bcva_data"}
    assert {"r_gls_over_ours", "published_mmrm_over_ours"} <= set(loaded["ratios"]["fev_data"])
    assert [t["status"] for t in loaded["targets"]] == ["met", "met", "not met", "met"]
    fit_vs_fit = loaded["targets"][0]
    assert fit_vs_fit["ours_s"] == 0.008 and fit_vs_fit["reference_s"] == 0.3
    assert fit_vs_fit["ratio"] == pytest.approx(37.5)
    assert loaded["targets"][1]["ratio"] == pytest.approx(30.0)
    assert loaded["published"]["fev_data"]["mmrm_s"] == 0.056


def test_json_writer_fills_missing_sections_with_null(bench, tmp_path):
    path = bench.write_json({"schema_version": 1, "numpy_value": np.float64(1.5)}, tmp_path / "m.json")
    loaded = json.loads(path.read_text())
    assert set(bench.REQUIRED_KEYS) <= set(loaded)
    assert loaded["fev_data"] is None and loaded["numpy_value"] == 1.5


def test_targets_not_measured_without_r(bench, small_fit):
    results = _fake_results(bench, small_fit)
    results["r_gls"] = {"available": False, "fev_data": {"ok": False}}
    results["memory"] = {}
    statuses = [t["status"] for t in bench.evaluate_targets(results)]
    assert statuses == ["not measured", "not measured", "not met", "not measured"]


def test_targets_below_the_thresholds_are_not_met(bench, small_fit):
    results = _fake_results(bench, small_fit)
    results["r_gls"]["fev_data"]["median_s"] = 0.16  # 20x fit vs fit, 16x with contrasts
    results["bcva_data"]["median_s"] = 0.2
    results["memory"]["bcva_data"]["peak_rss_mb"] = 400.0
    statuses = [t["status"] for t in bench.evaluate_targets(results)]
    assert statuses == ["not met", "met", "met", "not met"]


def test_lmm_targets_join_the_list(bench, small_fit):
    results = _fake_results(bench, small_fit)
    results["lmm"] = {"ours": {"median_s": 0.5}, "n_participants": 10_000,
                      "targets": [{"target": "LMM time", "value": 0.5, "unit": "s", "reference": 2.0, "status": "met"},
                                  {"target": "LMM estimates", "value": 0.1, "unit": "x tolerance", "reference": None,
                                   "status": "met"}]}
    rows = bench.evaluate_targets(results)
    assert len(rows) == 6
    assert rows[4]["ours_s"] == 0.5 and rows[4]["reference_s"] == 2.0 and rows[4]["ratio"] == pytest.approx(4.0)
    assert rows[5]["ratio"] is None and rows[5]["status"] == "met"


def test_parse_r_output(bench):
    text = 'Loading...\n{"ok": true, "median_s": 0.5, "neg2_loglik": 3387.37, "times_s": [0.5]}\n'
    assert bench.parse_r_output(text) == {"ok": True, "median_s": 0.5, "neg2_loglik": 3387.37,
                                          "times_s": [0.5]}
    assert bench.parse_r_output("no json here")["ok"] is False
    assert bench.parse_r_output("{not json}")["ok"] is False


def test_table_is_aligned(bench):
    buf = io.StringIO()
    table = bench.Table("demo", [("case", 8), ("median", 10), ("ratio", 6)], stream=buf)
    table.row("fev", "128.7 ms", "2.5x")
    table.row("bcva_data", "2.37 s", "-")
    lines = buf.getvalue().splitlines()
    assert lines[1] == "== demo =="
    header, rule, row1 = lines[2], lines[3], lines[4]
    assert len(header) == len(rule) == len(row1)
    assert row1.index("128.7 ms") + len("128.7 ms") == header.index("median") + len("median")


def test_format_seconds(bench):
    assert bench.format_seconds(0.0561) == "56.1 ms"
    assert bench.format_seconds(3.4) == "3.40 s"
    assert bench.format_seconds(None) == "-"


def test_reference_dir_from_environment(bench, monkeypatch, tmp_path):
    monkeypatch.setenv("PILOT_REFERENCE_DIR", str(tmp_path))
    assert bench.reference_dir() == tmp_path
    assert bench.case_path("fev_data") == tmp_path / "fev" / "fev_data.csv"
    with pytest.raises(FileNotFoundError, match="PILOT_REFERENCE_DIR"):
        bench.load_case("fev_data")
    monkeypatch.delenv("PILOT_REFERENCE_DIR")
    assert bench.reference_dir() == BENCH_PATH.parents[2] / "shared" / "reference"


def test_quick_arguments(bench):
    args = bench.parse_args(["--quick", "--out", "x.json"])
    assert args.quick and args.repeats == 3 and args.bcva_repeats == 1
    assert not args.with_r_bcva and args.lmm_repeats == 1
    assert bench.parse_args([]).with_r_bcva and not bench.parse_args(["--no-r-bcva"]).with_r_bcva
    assert bench.parse_args(["--quick", "--with-r-bcva"]).with_r_bcva
    assert bench.parse_args([]).repeats == 10
    with pytest.raises(SystemExit):
        bench.parse_args(["--repeats", "0"])


@pytest.mark.r
def test_r_gls_script_matches_our_likelihood(bench, small_fit, tmp_path):
    ok, reason = bench.r_available()
    if not ok:
        pytest.skip(reason)
    data, res = small_fit
    path = tmp_path / "sim27.csv"
    data.to_csv(path, index=False)
    r = bench.run_r_gls(path, bench.SIM_CASE, repeats=1, timeout=300)
    if not r.get("ok") and "not installed" in str(r.get("error")):
        pytest.skip(r["error"])
    assert r["ok"], r
    assert r["n_obs"] == res["n_obs"]
    assert r["neg2_loglik"] == pytest.approx(res["neg2_reml_loglik"], abs=1e-3)
    assert len(r["times_s"]) == 1
