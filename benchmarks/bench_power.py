"""Benchmark of the power simulations (``pilottrial.planning``); run by ``make bench``.

    python benchmarks/bench_power.py [--quick] [--sims N] [--out results/bench/power.json]

Measures, printing a table as it goes:

* **Fits per second per core** for trials of 100 per arm x 4 visits (unstructured covariance,
  REML, Satterthwaite df at the last visit; 5% dropout hazard per visit after the first): the
  batched fit (:func:`pilottrial.models.mmrm.monotone.fit_monotone_batch`) on chunks of 100 simulated
  trials in one process with one BLAS thread; beside it the simulation alone, the whole chunk
  (simulate + fit, as a shard runs it) and ``fit_mmrm`` one trial at a time. Target >= 100.
* **Wall time of 10,000 simulated trials on 2 cores**: the 10,000 trials (one effect, n = 100
  per arm) as 2 shards in 2 fresh processes, from the start of the processes to the end of
  both (imports included, as for Snakemake jobs). Target < 60 s.
* **Speed-up with 1, 2 and 4 shards**: the same work as 1, 2 and 4 shards, each in its own
  process, all started at once; the gathered results are checked to be identical.

The machine's CPU count and load are recorded; on a machine with fewer than 4 cores, 4 shards
cannot run faster than the cores allow. Nothing here is a test with a time limit.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(REPO / "src"))

from pilottrial import planning  # noqa: E402
from pilottrial.models.frame import FORMULA  # noqa: E402
from pilottrial.models.mmrm import fit_mmrm  # noqa: E402
from pilottrial.models.mmrm.monotone import fit_monotone_batch  # noqa: E402

DEFAULT_OUT = REPO / "results" / "bench" / "power.json"
N_PER_ARM = 100
N_VISITS = 4
TARGETS = {"fits_per_second_per_core": 100.0, "wall_10000_on_2_cores_s": 60.0}


def bench_plan(n_sims: int) -> planning.PowerPlan:
    return planning.example_plan(n_visits=N_VISITS, n_per_arm=[N_PER_ARM], n_sims=n_sims, effect=-1.0, hazard=0.05)


def fits_per_second(chunks: int, reference_fits: int) -> dict:
    """Batched fits, simulation and fit_mmrm, timed in this process."""
    plan = bench_plan(chunks * planning.CHUNK)
    simulate_s, fit_s, whole_s = [], [], []
    # warm-up (imports, first BLAS calls)
    fit_monotone_batch(planning.simulate_trials(plan, N_PER_ARM, -1.0, planning.trial_streams(1, N_PER_ARM, 0, 10)), 3)
    for c in range(chunks):
        start, stop = c * planning.CHUNK, (c + 1) * planning.CHUNK
        t0 = time.perf_counter()
        trials = planning.simulate_trials(plan, N_PER_ARM, -1.0, planning.trial_streams(plan.seed, N_PER_ARM, start, stop))
        t1 = time.perf_counter()
        batch = fit_monotone_batch(trials, plan.visit_index)
        t2 = time.perf_counter()
        planning.simulate_chunk(plan, 0, N_PER_ARM, start, stop)
        t3 = time.perf_counter()
        simulate_s.append(t1 - t0)
        fit_s.append(t2 - t1)
        whole_s.append(t3 - t2)
        assert (batch.status == 0).all()
    trials = planning.simulate_trials(plan, N_PER_ARM, -1.0, planning.trial_streams(plan.seed, N_PER_ARM, 0, reference_fits))
    ref_s = []
    for t in range(reference_fits):
        frame = planning.trial_frame(trials, t, plan)
        t0 = time.perf_counter()
        fit = fit_mmrm(frame, FORMULA, subject="participant", visit="visit", covariance="us")
        fit.treatment_contrasts("arm", *plan.arms, visit="visit")
        ref_s.append(time.perf_counter() - t0)
    n = planning.CHUNK
    return {
        "trials_per_chunk": n, "chunks": chunks,
        "fit_s_per_chunk": fit_s, "simulate_s_per_chunk": simulate_s, "chunk_s": whole_s,
        "fits_per_second_per_core": n / statistics.median(fit_s),
        "simulations_per_second_per_core": n / statistics.median(simulate_s),
        "simulate_and_fit_per_second_per_core": n / statistics.median(whole_s),
        "fit_mmrm_fits_per_second": 1.0 / statistics.median(ref_s),
        "fit_mmrm_median_s": statistics.median(ref_s),
    }


def _run_shard(args):
    """In a fresh process: import, run one shard, return its table and timings."""
    plan_json, shard, shards = args
    began = time.perf_counter()
    from pilottrial.planning import PowerPlan, simulate_shard

    plan = PowerPlan.from_json(plan_json)
    table = simulate_shard(plan, shard, shards)
    return table, time.perf_counter() - began, time.process_time()


def run_shards(plan: planning.PowerPlan, shards: int) -> dict:
    """All shards at once, one process each (spawned, so imports count as for Snakemake jobs)."""
    context = multiprocessing.get_context("spawn")
    text = plan.to_json()
    t0 = time.perf_counter()
    with context.Pool(processes=shards) as pool:
        results = pool.map(_run_shard, [(text, i, shards) for i in range(shards)])
    wall = time.perf_counter() - t0
    gathered = planning.combine_shards([r[0] for r in results], plan)
    return {"shards": shards, "processes": shards, "wall_s": wall,
            "shard_s": [r[1] for r in results], "cpu_s": [r[2] for r in results], "table": gathered}


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    import numpy
    import scipy

    return {"date": _dt.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "cpus_available": len(os.sched_getaffinity(0)),
            "loadavg_start": load}


class Table:
    def __init__(self, title, columns):
        self.columns = columns
        print(f"\n== {title} ==")
        self._emit([c for c, _ in columns])
        print("  ".join("-" * w for _, w in columns), flush=True)

    def _emit(self, cells):
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                        for i, (c, (_, w)) in enumerate(zip(cells, self.columns))).rstrip(), flush=True)

    def row(self, *cells):
        self._emit(cells)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=10_000, help="trials of the shard runs (default 10000)")
    parser.add_argument("--chunks", type=int, default=5, help="chunks of 100 trials for fits/s (default 5)")
    parser.add_argument("--reference-fits", type=int, default=20, help="fit_mmrm fits for comparison")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--quick", action="store_true", help="2000 trials, 2 chunks, 5 fit_mmrm fits")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.sims, args.chunks, args.reference_fits = 2000, 2, 5
    results = {"meta": machine(), "settings": {"n_per_arm": N_PER_ARM, "n_visits": N_VISITS, "sims": args.sims,
                                                 "shards": args.shards, "chunk": planning.CHUNK}}
    if results["meta"]["loadavg_start"] and results["meta"]["loadavg_start"][0] > 0.5 * (os.cpu_count() or 1):
        print(f"warning: the machine is busy (load {results['meta']['loadavg_start'][0]:.1f}); times will be longer",
              file=sys.stderr)

    speed = fits_per_second(args.chunks, args.reference_fits)
    results["fits"] = speed
    table = Table(f"fits per second per core, {N_PER_ARM} per arm x {N_VISITS} visits",
                  [("what", 34), ("per second", 11)])
    table.row("batched MMRM fit", f"{speed['fits_per_second_per_core']:.0f}")
    table.row("simulation", f"{speed['simulations_per_second_per_core']:.0f}")
    table.row("simulate + fit (a shard's chunk)", f"{speed['simulate_and_fit_per_second_per_core']:.0f}")
    table.row("fit_mmrm, one trial at a time", f"{speed['fit_mmrm_fits_per_second']:.1f}")

    plan = bench_plan(args.sims)
    runs, reference = [], None
    table = Table(f"{args.sims} simulated trials ({N_PER_ARM} per arm x {N_VISITS} visits) in shards",
                  [("shards (processes)", 18), ("wall s", 8), ("speed-up", 8), ("trials/s", 9), ("identical", 9)])
    for shards in args.shards:
        run = run_shards(plan, shards)
        frame = run.pop("table")
        same = True if reference is None else frame.equals(reference)
        reference = frame if reference is None else reference
        run["identical_to_first"] = bool(same)
        runs.append(run)
        run["speedup"] = runs[0]["wall_s"] / run["wall_s"]
        table.row(f"{shards}", f"{run['wall_s']:.1f}", f"{run['speedup']:.2f}", f"{args.sims / run['wall_s']:.0f}",
                  "yes" if same else "NO")
    results["shards"] = runs
    two = next((r for r in runs if r["shards"] == 2), None)
    wall_10000 = two["wall_s"] * 10_000 / args.sims if two else None
    results["wall_10000_on_2_cores_s"] = wall_10000
    results["meta"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    targets = []
    for name, limit, value, better in (
            ("fits per second per core (>= 100)", TARGETS["fits_per_second_per_core"],
             speed["fits_per_second_per_core"], "higher"),
            ("wall time of 10,000 trials on 2 cores (< 60 s)", TARGETS["wall_10000_on_2_cores_s"], wall_10000,
             "lower")):
        status = "not measured" if value is None else (
            "met" if (value >= limit if better == "higher" else value < limit) else "not met")
        targets.append({"target": name, "limit": limit, "value": value, "status": status})
    results["targets"] = targets
    table = Table("targets", [("target", 48), ("value", 8), ("status", 12)])
    for t in targets:
        scaled = "" if args.sims == 10_000 or "wall" not in t["target"] else " (scaled)"
        table.row(t["target"], "-" if t["value"] is None else f"{t['value']:.1f}", t["status"] + scaled)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    args.out.write_text(text + "\n")
    print(f"\nwritten: {args.out}")
    return results


if __name__ == "__main__":
    main()
