"""Benchmark of the random-intercept LMM (``pilottrial.models.lmm.fit_lmm``) against lme4.

    python benchmarks/bench_lmm.py [--participants 10000] [--repeats 3] [--r-repeats 3]
                                   [--no-r] [--out results/bench/lmm.json]

Also run as a section of ``benchmarks/bench_mmrm.py`` (``make bench``). Model:
``y ~ baseline + age + arm * visit + (1 | participant)``, REML, on a simulated trial (fixed seed;
two arms, 4 visits, a random intercept of SD 2, 10% of visits 2-4 missing; the generator of
tests/models/test_lmm_random_intercept.py). Times, median of ``--repeats``, wall clock:

* ours: ``fit_lmm`` (profiled REML, the engine's Satterthwaite inference), and the same plus
  the treatment contrasts at every visit;
* lme4: ``lme4::lmer`` with its default control, timed inside R by ``benchmarks/bench_lmm.R``
  in the same run (R start-up and reading the CSV excluded).

The estimates are compared with lme4's: fixed effects, the two variance components and the
-2 REML log-likelihood, against lme4's default fit and against a tight-tolerance lme4 fit
(BOBYQA ``rhoend = 2e-12``, untimed; the default stops ~1e-6 short in the variances). Target:
at most 2 s for 10,000 participants, the estimates matching the tight fit (fixed effects
1e-6, variance components 1e-5 relative). This is a benchmark: nothing here is a test with a
time limit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(REPO / "src"))

from pilottrial.models.lmm import fit_lmm  # noqa: E402
from pilottrial.models.mmrm.simulate import simulate_lmm_trial as simulate  # noqa: E402

R_SCRIPT = Path(__file__).resolve().with_name("bench_lmm.R")
DEFAULT_OUT = REPO / "results" / "bench" / "lmm.json"
FORMULA = "y ~ baseline + age + arm * visit"
SEED = 4
TARGET_SECONDS = 2.0
TOLERANCE = {"fixed_effects": 1e-6, "variance_components": 1e-5}


def simulate_lmm_trial(n: int, seed: int = SEED, sd_u: float = 2.0) -> pd.DataFrame:
    """:func:`pilottrial.models.mmrm.simulate.simulate_lmm_trial` with the benchmark's seed."""
    return simulate(n, seed, sd_u)


def categorical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["arm"] = pd.Categorical(frame["arm"], ["PBO", "TRT"])
    frame["visit"] = pd.Categorical(frame["visit"], [f"VIS{j + 1}" for j in range(4)])
    return frame


def time_ours(frame: pd.DataFrame, repeats: int, warmup: int = 1) -> dict:
    """Median wall-clock time of ``fit_lmm`` alone and with the treatment contrasts."""
    data = categorical(frame)
    for _ in range(warmup):
        fit_lmm(data, FORMULA, subject="participant", visit="visit")
    totals, fits, cpu = [], [], []
    fit = contrasts = None
    for _ in range(repeats):
        cpu_start = time.process_time()
        start = time.perf_counter()
        fit = fit_lmm(data, FORMULA, subject="participant", visit="visit")
        fitted = time.perf_counter()
        contrasts = fit.treatment_contrasts("arm", "PBO", "TRT")
        end = time.perf_counter()
        cpu.append(time.process_time() - cpu_start)
        fits.append(fitted - start)
        totals.append(end - start)
    return {"repeats": repeats, "warmup": warmup, "fit_times_s": fits, "times_s": totals,
            "fit_only_median_s": statistics.median(fits), "median_s": statistics.median(totals),
            "min_s": min(totals), "cpu_median_s": statistics.median(cpu),
            "terms": list(fit.terms), "fixef": [float(b) for b in fit.beta],
            "sigma_u2": float(fit.phi[0]), "sigma2": float(fit.phi[1]), "neg2_reml": float(fit.neg2_loglik),
            "singular": bool(fit.singular), "n_obs": int(fit.n_obs), "n_participants": int(fit.n_subjects),
            "contrast_df": [float(v) for v in contrasts["df"]],
            "contrast_estimate": [float(v) for v in contrasts["estimate"]]}


def run_lme4(csv: Path, repeats: int, warmup: int = 1, timeout: float = 1800) -> dict:
    """Time lme4::lmer inside R (``bench_lmm.R``); ``{"ok": False, "error": ...}`` when it cannot run."""
    if shutil.which("Rscript") is None:
        return {"ok": False, "error": "Rscript not found on PATH"}
    cmd = ["Rscript", "--vanilla", str(R_SCRIPT), str(csv), str(repeats), str(warmup)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError as exc:
                return {"ok": False, "error": f"unreadable JSON from bench_lmm.R: {exc}"}
    return {"ok": False, "error": f"no JSON from bench_lmm.R (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"}


def compare(ours: dict, reference: dict) -> dict:
    """Largest relative differences of ours from one lme4 fit (``reference``: its summary)."""
    b_ours, b_ref = np.asarray(ours["fixef"]), np.asarray(reference["fixef"])
    if b_ours.shape != b_ref.shape:
        return {"error": f"{b_ours.size} fixed effects against lme4's {b_ref.size}"}

    def rel(a, b):
        return float(abs(a - b) / max(abs(b), 1e-300))

    return {"fixed_effects_max_rel": float(np.max(np.abs(b_ours - b_ref) / np.maximum(np.abs(b_ref), 1e-12))),
            "sigma_u2_rel": rel(ours["sigma_u2"], reference["sigma_u2"]),
            "sigma2_rel": rel(ours["sigma2"], reference["sigma2"]),
            "neg2_reml_abs": float(abs(ours["neg2_reml"] - reference["neg2_reml"]))}


def evaluate_targets(result: dict) -> list[dict]:
    """Rows ``target, value, unit, reference, status`` for the LMM (see the module docstring)."""
    ours = result.get("ours") or {}
    r = result.get("lme4") or {}
    n = result.get("n_participants")
    seconds = ours.get("median_s")
    rows = [{"target": f"LMM {n:,} participants x 4 visits: fit + contrasts <= {TARGET_SECONDS:g} s",
             "value": seconds, "unit": "s", "reference": r.get("median_s") if r.get("ok") else None,
             "status": "not measured" if seconds is None else ("met" if seconds <= TARGET_SECONDS else "not met")}]
    diff = result.get("vs_lme4_tight") or {}
    if not r.get("ok") or "error" in diff or not diff:
        status, value = "not measured", None
    else:
        value = max(diff["fixed_effects_max_rel"] / TOLERANCE["fixed_effects"],
                    max(diff["sigma_u2_rel"], diff["sigma2_rel"]) / TOLERANCE["variance_components"])
        status = "met" if value <= 1.0 else "not met"
    rows.append({"target": "LMM estimates match lme4 (fixed effects 1e-6, variances 1e-5 relative)",
                 "value": value, "unit": "x tolerance", "reference": None, "status": status})
    return rows


def run(participants: int = 10_000, repeats: int = 3, r_repeats: int = 3, with_r: bool = True,
        progress=print) -> dict:
    """The LMM section: simulate, time ours and lme4, compare the estimates, evaluate targets."""
    frame = simulate_lmm_trial(participants)
    result = {"model": f"{FORMULA} + (1 | participant), REML", "n_participants": participants,
              "n_obs": len(frame), "seed": SEED, "target_seconds": TARGET_SECONDS, "tolerance": TOLERANCE}
    progress(f"LMM: {participants} participants, {repeats} fits (ours)")
    result["ours"] = time_ours(frame, repeats)
    if with_r:
        progress(f"LMM: lme4::lmer, {r_repeats} fits")
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "lmm_trial.csv"
            frame.to_csv(csv, index=False)
            result["lme4"] = run_lme4(csv, r_repeats)
    else:
        result["lme4"] = {"ok": False, "error": "--no-r given"}
    r = result["lme4"]
    if r.get("ok"):
        result["vs_lme4_default"] = compare(result["ours"], r["default"])
        result["vs_lme4_tight"] = compare(result["ours"], r["tight"])
        result["lme4_over_ours_fit_only"] = r["median_s"] / result["ours"]["fit_only_median_s"]
        result["lme4_over_ours_with_contrasts"] = r["median_s"] / result["ours"]["median_s"]
    result["targets"] = evaluate_targets(result)
    return result


def print_section(result: dict, table_cls, format_seconds) -> None:
    """Print the LMM tables with the benchmark's table class and number format."""
    ours, r = result["ours"], result["lme4"]
    tab = table_cls(f"Random-intercept LMM ({result['model']}), {result['n_participants']:,} participants, "
                    f"{result['n_obs']:,} rows: ours vs lme4::lmer timed in the same run",
                    [("engine", 24), ("median", 10), ("min", 10), ("ours fit", 10), ("lme4 / fit", 10),
                     ("ours +contr.", 12), ("lme4 / total", 12)])
    tab.row("ours (fit_lmm)", format_seconds(ours["median_s"]), format_seconds(ours["min_s"]),
            format_seconds(ours["fit_only_median_s"]), "", format_seconds(ours["median_s"]), "")
    if r.get("ok"):
        tab.row("lme4::lmer (default)", format_seconds(r["median_s"]), format_seconds(min(r["times_s"])),
                format_seconds(ours["fit_only_median_s"]), f"{result['lme4_over_ours_fit_only']:.1f}x",
                format_seconds(ours["median_s"]), f"{result['lme4_over_ours_with_contrasts']:.1f}x")
        diffs = table_cls("LMM estimates: ours minus lme4 (relative; -2 REML absolute)",
                          [("against", 22), ("fixed effects", 13), ("sigma_u^2", 10), ("sigma^2", 10),
                           ("-2 REML", 10)])
        for label, key in (("lme4 default control", "vs_lme4_default"), ("lme4 tight (rhoend)", "vs_lme4_tight")):
            d = result[key]
            if "error" in d:
                diffs.row(label, d["error"])
            else:
                diffs.row(label, f"{d['fixed_effects_max_rel']:.1e}", f"{d['sigma_u2_rel']:.1e}",
                          f"{d['sigma2_rel']:.1e}", f"{d['neg2_reml_abs']:.1e}")
    else:
        tab.row("lme4::lmer", "not run: " + str(r.get("error"))[:70])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--r-repeats", type=int, default=3)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_mmrm import Table, format_seconds, write_json_file  # noqa: PLC0415 (the sibling script)

    result = run(args.participants, args.repeats, args.r_repeats, with_r=not args.no_r,
                 progress=lambda m: print(m, file=sys.stderr, flush=True))
    print_section(result, Table, format_seconds)
    for t in result["targets"]:
        print(f"{t['target']}: {t['status']}")
    print(f"wrote {write_json_file(result, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
