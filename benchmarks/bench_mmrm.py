"""Benchmark of the MMRM engine (``pilottrial.models.mmrm.fit_mmrm``); run by ``make bench``.

    python benchmarks/bench_mmrm.py [--repeats N] [--quick] [--with-r-bcva | --no-r-bcva] [--profile]
                                    [--no-lmm] [--blas-threads N] [--out results/bench/mmrm.json]

Measures, printing an aligned table as it goes (progress lines go to stderr):

* ``fev_data`` (200 subjects x 4 visits): ``FEV1 ~ RACE + ARMCD * AVISIT``, unstructured
  covariance, REML, Satterthwaite; the time of one fit includes the Satterthwaite df of the
  treatment contrasts at every visit (``fit.treatment_contrasts``). Median of ``--repeats``.
* ``bcva_data`` (1000 subjects x 10 visits, 55 covariance parameters):
  ``BCVA_CHG ~ RACE + BCVA_BL + ARMCD * AVISIT``, same settings, median of 3.
* Peak memory of each of those fits, in a fresh subprocess per measurement: the peak resident
  set size (``VmHWM`` of ``/proc/self/status``, which covers numpy's allocations) of a Python
  process that imports the engine, reads the data, fits and computes the contrasts.
  ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is recorded beside it; on Linux it can
  inherit the parent's high-water mark across ``exec`` (vfork), so the child is started with a
  real fork and ``VmHWM`` is preferred where it exists.
* Scaling: fit time on data simulated with a fixed seed (4 visits, 2 arms, unstructured
  covariance, ~15% of subjects dropping out monotonely) at 27, 200, 1000 and 10000 subjects.
* The R reference in the same run when ``Rscript`` and nlme are available:
  ``nlme::gls(..., correlation = corSymm(...), weights = varIdent(...), method = "REML")``
  timed inside R by ``benchmarks/bench_gls.R`` on fev_data and on bcva_data (about a minute
  per fit; skipped by ``--quick`` and ``--no-r-bcva``), with R's ``-2*logLik`` beside ours.
* The random-intercept LMM at 10,000 participants x 4 visits against ``lme4::lmer`` timed in
  the same run, estimates compared (``benchmarks/bench_lmm.py``; also written to
  ``lmm.json`` beside ``--out``; skipped by ``--no-lmm``).
* Ratios to R and to the published figures of the R package mmrm (other machine), and the
  targets: per target our time, the R reference time of this run, their ratio, the target and
  met / not met.

Wall-clock times depend on what else runs on the machine: the load average and CPU pressure
are recorded at the start and the end, with a warning when the machine is busy, and the CPU
time and the minimum are printed beside the median. ``--blas-threads 1`` limits the BLAS
thread pools (the engine makes many tiny LAPACK/BLAS calls, which multi-threaded OpenBLAS can
slow down badly when the CPUs are shared).

All figures are written to ``--out`` (default ``results/bench/mmrm.json``). ``--quick`` uses
fewer repeats and skips 10000 subjects (a smoke run). This is a benchmark: nothing here is a
test with a time limit.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as _dt
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pilottrial.models.mmrm.simulate import simulate_trial

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(REPO / "src"))

from pilottrial.models.mmrm import fit_mmrm  # noqa: E402

R_SCRIPT = Path(__file__).resolve().with_name("bench_gls.R")
DEFAULT_OUT = REPO / "results" / "bench" / "mmrm.json"
SIM_SEED = 20240611
SCALING_SIZES = (27, 200, 1000, 10000)
QUICK_SCALING_SIZES = (27, 200, 1000)
SCHEMA_VERSION = 2

# Reference datasets and their models (reference level = first sorted category).
CASES = {
    "fev_data": {
        "path": ("fev", "fev_data.csv"),
        "response": "FEV1",
        "rhs": "RACE + ARMCD * AVISIT",
        "rhs_r": "RACE + ARMCD*AVISIT",
        "subject": "USUBJID",
        "visit": "AVISIT",
        "arm": "ARMCD",
        "reference": "PBO",
        "treatment": "TRT",
        "factors": ("USUBJID", "AVISIT", "ARMCD", "RACE", "SEX"),
    },
    "bcva_data": {
        "path": ("bcva", "bcva_data.csv"),
        "response": "BCVA_CHG",
        "rhs": "RACE + BCVA_BL + ARMCD * AVISIT",
        "rhs_r": "RACE + BCVA_BL + ARMCD*AVISIT",
        "subject": "USUBJID",
        "visit": "AVISIT",
        "arm": "ARMCD",
        "reference": "CTL",
        "treatment": "TRT",
        "factors": ("USUBJID", "AVISIT", "ARMCD", "RACE"),
    },
}
SIM_CASE = {
    "response": "Y",
    "rhs": "BASE + ARMCD * AVISIT",
    "rhs_r": "BASE + ARMCD*AVISIT",
    "subject": "USUBJID",
    "visit": "AVISIT",
    "arm": "ARMCD",
    "reference": "PBO",
    "treatment": "TRT",
}

# Published figures (README of the reference folder): median of 10 fits on another machine.
PUBLISHED = {
    "source": "R package mmrm, method-comparison vignette (other machine)",
    "fev_data": {"mmrm_s": 0.056, "nlme_gls_s": 0.688, "sas_glimmix_s": 0.100, "lme4_s": 0.247,
                 "glmmTMB_s": 0.716},
    "bcva_data": {"mmrm_s": 3.4, "nlme_gls_s": 164.0, "sas_glimmix_s": 36.3, "lme4_s": 165.0,
                  "glmmTMB_s": 18.6},
}
TARGETS = {
    "fev_speedup_vs_gls": 25.0,  # R gls median / our fit_mmrm median on fev_data, measured in this run
    "fev_speedup_vs_gls_with_contrasts": 15.0,  # the same, ours including the treatment contrasts
    "bcva_seconds": 0.25,  # median full fit (fit_mmrm + contrasts) on bcva_data
    "bcva_peak_mb": 300.0,  # peak RSS of the fitting process on bcva_data
}


# --------------------------------------------------------------------------------------
# data
def reference_dir() -> Path:
    """``$PILOT_REFERENCE_DIR``, else ``<repo>/../shared/reference``."""
    env = os.environ.get("PILOT_REFERENCE_DIR")
    return Path(env) if env else REPO.parent / "shared" / "reference"


def case_path(case: str, ref_dir: Path | None = None) -> Path:
    return (ref_dir or reference_dir()).joinpath(*CASES[case]["path"])


def load_case(case: str, ref_dir: Path | None = None) -> pd.DataFrame:
    """Read a reference dataset with its factors as pandas Categoricals (sorted levels)."""
    path = case_path(case, ref_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set PILOT_REFERENCE_DIR to the reference folder "
                                f"(see its README.md)")
    data = pd.read_csv(path)
    for name in CASES[case]["factors"]:
        col = data[name].astype(str)
        data[name] = pd.Categorical(col, categories=sorted(col.unique()))
    return data


# --------------------------------------------------------------------------------------
# fitting and timing
def fit_case(data: pd.DataFrame, spec: dict):
    """One full fit as benchmarked: fit_mmrm + Satterthwaite treatment contrasts.

    Returns ``(seconds_total, seconds_fit_only, fit, contrasts)``.
    """
    start = time.perf_counter()
    fit = fit_mmrm(data, f"{spec['response']} ~ {spec['rhs']}", subject=spec["subject"],
                   visit=spec["visit"], covariance="us", method="reml", df_method="satterthwaite")
    fitted = time.perf_counter()
    contrasts = fit.treatment_contrasts(arm=spec["arm"], reference=spec["reference"],
                                        treatment=spec["treatment"])
    np.asarray(contrasts["df"], dtype=float).sum()  # make sure the df are computed
    end = time.perf_counter()
    return end - start, fitted - start, fit, contrasts


def time_case(data: pd.DataFrame, spec: dict, repeats: int, label: str = "", warmup: int = 0) -> dict:
    """Median (and spread) of ``repeats`` full fits, with the fit's summary figures."""
    for _ in range(warmup):
        fit_case(data, spec)
    totals, fit_only, cpu = [], [], []
    fit = contrasts = None
    for i in range(repeats):
        cpu_start = time.process_time()
        total, only, fit, contrasts = fit_case(data, spec)
        cpu.append(time.process_time() - cpu_start)
        totals.append(total)
        fit_only.append(only)
        progress(f"  {label}: fit {i + 1}/{repeats} {format_seconds(total)}")
    df = np.asarray(contrasts["df"], dtype=float)
    return {
        "repeats": repeats,
        "warmup": warmup,
        "times_s": totals,
        "median_s": statistics.median(totals),
        "min_s": min(totals),
        "max_s": max(totals),
        "fit_only_median_s": statistics.median(fit_only),
        "contrasts_median_s": statistics.median(t - f for t, f in zip(totals, fit_only)),
        "cpu_median_s": statistics.median(cpu),
        "load_after": machine_load(),
        "neg2_reml_loglik": float(fit.neg2_loglik),
        "converged": bool(getattr(fit, "converged", True)),
        "optimizer": str(getattr(fit, "optimizer", "")),
        "n_subjects": int(getattr(fit, "n_subjects", data[spec["subject"]].nunique())),
        "n_obs": int(getattr(fit, "n_obs", data[spec["response"]].notna().sum())),
        "n_fixed": int(len(fit.coefficients)),
        "n_cov_params": int(np.asarray(fit.phi).size) if hasattr(fit, "phi") else None,
        "contrast_df": [float(v) for v in df],
        "contrast_estimate": [float(v) for v in np.asarray(contrasts["estimate"], dtype=float)],
    }


# --------------------------------------------------------------------------------------
# memory, in a fresh subprocess per measurement
def _proc_status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _maxrss_mb() -> float:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (1024.0 * 1024.0) if sys.platform == "darwin" else value / 1024.0


def _peak_mb() -> tuple[float, str]:
    hwm = _proc_status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024.0, "VmHWM"
    return _maxrss_mb(), "ru_maxrss"


def memory_child(job: dict) -> dict:
    """Body of the measuring subprocess: load, fit once, report peak RSS (MB)."""
    if job["kind"] == "sim":
        data, spec = simulate_trial(int(job["n_subjects"]), seed=int(job.get("seed", SIM_SEED))), SIM_CASE
    else:
        data, spec = load_case(job["case"], Path(job["ref_dir"])), CASES[job["case"]]
    baseline, source = _peak_mb()
    baseline_maxrss = _maxrss_mb()
    seconds, _, fit, _ = fit_case(data, spec)
    # the high-water mark never falls; the kernel syncs its RSS counters lazily, so a later
    # reading can come out a few hundred kB below an earlier one
    peak = max(_peak_mb()[0], baseline)
    return {"peak_rss_mb": peak, "baseline_rss_mb": baseline, "fit_increment_mb": peak - baseline,
            "ru_maxrss_mb": _maxrss_mb(), "baseline_ru_maxrss_mb": baseline_maxrss,
            "measure": source, "seconds": seconds, "neg2_reml_loglik": float(fit.neg2_loglik)}


def measure_memory(job: dict, timeout: float = 1800) -> dict:
    """Run :func:`memory_child` in a fresh Python process (real fork, see module docstring)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", json.dumps(job)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    kwargs = {}
    if os.name == "posix":
        kwargs["preexec_fn"] = _noop  # forces fork+exec instead of vfork: no inherited ru_maxrss
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    line = _last_json_line(proc.stdout)
    if proc.returncode != 0 or line is None:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    result = json.loads(line)
    result["method"] = ("peak resident set size of a fresh subprocess that imports the engine, "
                        "reads the data, fits and computes the contrasts (VmHWM; ru_maxrss alongside)")
    return result


def _noop():
    pass


def _load_bench_lmm():
    """benchmarks/bench_lmm.py as a module (this file may be loaded by path, without its folder on sys.path)."""
    import importlib.util

    if "bench_lmm" in sys.modules:
        return sys.modules["bench_lmm"]
    spec = importlib.util.spec_from_file_location("bench_lmm", Path(__file__).resolve().with_name("bench_lmm.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_lmm"] = module
    spec.loader.exec_module(module)
    return module


def _last_json_line(text: str) -> str | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            return line
    return None


# --------------------------------------------------------------------------------------
# R reference
def r_available() -> tuple[bool, str]:
    if shutil.which("Rscript") is None:
        return False, "Rscript not found on PATH"
    if not R_SCRIPT.is_file():
        return False, f"{R_SCRIPT} missing"
    return True, ""


def parse_r_output(stdout: str) -> dict:
    """The JSON object printed last by bench_gls.R (``{"ok": false, "error": ...}`` if none)."""
    line = _last_json_line(stdout)
    if line is None:
        return {"ok": False, "error": "no JSON line in the output of bench_gls.R"}
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return {"ok": False, "error": f"unreadable JSON from bench_gls.R: {exc}"}


def run_r_gls(data_path: Path, spec: dict, repeats: int, warmup: int = 0, timeout: float = 600) -> dict:
    """Time nlme::gls inside R on the CSV at ``data_path`` (model pieces from ``spec``)."""
    ok, reason = r_available()
    if not ok:
        return {"ok": False, "error": reason}
    cmd = ["Rscript", "--vanilla", str(R_SCRIPT), str(data_path), spec["response"],
           spec.get("rhs_r", spec["rhs"]), spec["subject"], spec["visit"], str(repeats), str(warmup)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    result = parse_r_output(proc.stdout)
    if proc.returncode != 0 and result.get("ok"):
        result = {"ok": False, "error": f"Rscript exit {proc.returncode}"}
    if not result.get("ok") and proc.stderr.strip():
        result["stderr"] = proc.stderr.strip()[-400:]
    return result


# --------------------------------------------------------------------------------------
# ratios, targets, output
def ratio(numerator, denominator):
    if numerator is None or denominator is None or not denominator:
        return None
    return float(numerator) / float(denominator)


def compute_ratios(results: dict) -> dict:
    out = {}
    for case in CASES:
        ours = results.get(case, {}).get("median_s")
        r = results.get("r_gls", {}).get(case, {})
        # rough machine-speed factor: nlme::gls here / nlme::gls published
        speed = ratio(r.get("median_s"), PUBLISHED[case]["nlme_gls_s"]) if r.get("ok") else None
        mmrm_here = PUBLISHED[case]["mmrm_s"] * speed if speed else None
        fit_only = results.get(case, {}).get("fit_only_median_s")
        out[case] = {
            "r_gls_over_ours": ratio(r.get("median_s"), ours) if r.get("ok") else None,
            # like for like: R's timing is the gls() call alone, ours the fit_mmrm() call alone
            # (both estimate the covariance and its asymptotic variance; no contrasts)
            "r_gls_over_ours_fit_only": ratio(r.get("median_s"), fit_only) if r.get("ok") else None,
            "machine_factor_gls_here_over_published": speed,
            "published_mmrm_scaled_to_this_machine_s": mmrm_here,
            "scaled_mmrm_over_ours": ratio(mmrm_here, ours),
            "published_mmrm_over_ours": ratio(PUBLISHED[case]["mmrm_s"], ours),
            "published_gls_over_ours": ratio(PUBLISHED[case]["nlme_gls_s"], ours),
        }
    return out


def evaluate_targets(results: dict) -> list[dict]:
    """One row per target: ``target, value, unit, ours_s, reference_s, reference, ratio, status``
    (``reference_s``: the R time measured in this run, None when R did not run)."""
    ratios = results.get("ratios") or compute_ratios(results)
    r_gls = results.get("r_gls") or {}

    def r_time(case):
        r = r_gls.get(case) or {}
        return r.get("median_s") if r.get("ok") else None

    def verdict(value, ok):
        return "not measured" if value is None else ("met" if ok else "not met")

    fev, bcva = results.get("fev_data") or {}, results.get("bcva_data") or {}
    fit_ratio = ratios.get("fev_data", {}).get("r_gls_over_ours_fit_only")
    total_ratio = ratios.get("fev_data", {}).get("r_gls_over_ours")
    bcva_s = bcva.get("median_s")
    bcva_mb = (results.get("memory") or {}).get("bcva_data", {}).get("peak_rss_mb")
    gls = "nlme::gls (corSymm + varIdent)"
    rows = [
        {"target": f"fev_data: >= {TARGETS['fev_speedup_vs_gls']:g}x faster than nlme::gls (fit vs fit, same run)",
         "value": fit_ratio, "unit": "x", "ours_s": fev.get("fit_only_median_s"), "reference_s": r_time("fev_data"),
         "reference": gls, "ratio": fit_ratio,
         "status": verdict(fit_ratio, fit_ratio is not None and fit_ratio >= TARGETS["fev_speedup_vs_gls"])},
        {"target": f"fev_data: >= {TARGETS['fev_speedup_vs_gls_with_contrasts']:g}x faster than nlme::gls "
                   f"(ours with treatment contrasts)",
         "value": total_ratio, "unit": "x", "ours_s": fev.get("median_s"), "reference_s": r_time("fev_data"),
         "reference": gls, "ratio": total_ratio,
         "status": verdict(total_ratio, total_ratio is not None
                           and total_ratio >= TARGETS["fev_speedup_vs_gls_with_contrasts"])},
        {"target": f"bcva_data: fit + contrasts <= {TARGETS['bcva_seconds']:g} s (median)",
         "value": bcva_s, "unit": "s", "ours_s": bcva_s, "reference_s": r_time("bcva_data"), "reference": gls,
         "ratio": ratio(r_time("bcva_data"), bcva_s),
         "status": verdict(bcva_s, bcva_s is not None and bcva_s <= TARGETS["bcva_seconds"])},
        {"target": f"bcva_data: peak memory <= {TARGETS['bcva_peak_mb']:g} MB",
         "value": bcva_mb, "unit": "MB", "ours_s": None, "reference_s": None, "reference": None, "ratio": None,
         "status": verdict(bcva_mb, bcva_mb is not None and bcva_mb <= TARGETS["bcva_peak_mb"])},
    ]
    lmm = results.get("lmm") or {}
    for t in lmm.get("targets") or []:
        ours = (lmm.get("ours") or {}).get("median_s") if t["unit"] == "s" else None
        rows.append({**t, "ours_s": ours, "reference_s": t.get("reference") if t["unit"] == "s" else None,
                     "reference": "lme4::lmer (default control)" if t["unit"] == "s" else "lme4::lmer (tight)",
                     "ratio": ratio(t.get("reference"), ours) if t["unit"] == "s" else None})
    return rows


def write_json_file(payload: dict, path: Path) -> Path:
    """Write ``payload`` as indented JSON (numpy values converted), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    tmp.replace(path)
    return path


REQUIRED_KEYS = ("schema_version", "meta", "fev_data", "bcva_data", "memory", "scaling", "r_gls",
                 "published", "ratios", "targets", "lmm")


def write_json(results: dict, path: Path) -> Path:
    """Write the results (every key of REQUIRED_KEYS present, None where not measured)."""
    payload = {key: results.get(key) for key in REQUIRED_KEYS}
    payload.update({k: v for k, v in results.items() if k not in payload})
    return write_json_file(payload, path)


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def environment_meta(args) -> dict:
    import scipy

    try:
        from importlib.metadata import version as _version

        version = _version("pilottrial")
    except Exception:  # not installed: running from the source tree
        version = ""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    return {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "pilottrial": version, "git_commit": commit,
        "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
        "scipy": scipy.__version__, "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                  "MKL_NUM_THREADS") if k in os.environ},
        "repeats": args.repeats, "quick": args.quick, "with_r_bcva": args.with_r_bcva,
        "blas_threads_limit": args.blas_threads,
        "reference_dir": str(args.reference_dir), "simulation_seed": SIM_SEED,
        "blas_threads": _blas_threads(),
        "timing": "wall clock (time.perf_counter) of fit_mmrm + treatment_contrasts (Satterthwaite df)",
        "load_at_start": machine_load(),
    }


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info

        return [{k: i.get(k) for k in ("internal_api", "num_threads", "version")} for i in threadpool_info()]
    except Exception:
        return None


def machine_load() -> dict:
    """Load average and CPU pressure: other processes on the machine inflate wall-clock times."""
    out = {}
    try:
        out["loadavg_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    try:
        with open("/proc/pressure/cpu") as fh:
            out["cpu_pressure_some_avg10"] = float(fh.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return out


def busy_warning(load: dict, cpu_count: int | None) -> str | None:
    la = (load.get("loadavg_1_5_15") or [0.0])[0]
    if cpu_count and la > 0.5 * cpu_count:
        return (f"WARNING: machine busy (load average {la:.2f} on {cpu_count} CPUs): other processes "
                f"inflate wall-clock times; compare the 'min' columns and the CPU time")
    return None


# --------------------------------------------------------------------------------------
# printing
def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def format_seconds(value) -> str:
    if value is None:
        return "-"
    if value < 1.0:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def format_number(value, fmt: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


class Table:
    """Fixed-width table printed row by row (header first), so it reads while it runs."""

    def __init__(self, title: str, columns: list[tuple[str, int]], stream=None):
        self.columns = columns
        self.stream = stream or sys.stdout
        print(f"\n== {title} ==", file=self.stream)
        self._emit([name for name, _ in columns])
        print("  ".join("-" * width for _, width in columns), file=self.stream, flush=True)

    def _emit(self, cells):
        parts = []
        for i, (cell, (_, width)) in enumerate(zip(cells, self.columns)):
            text = str(cell)
            parts.append(text.ljust(width) if i == 0 else text.rjust(width))
        print("  ".join(parts).rstrip(), file=self.stream, flush=True)

    def row(self, *cells):
        self._emit(cells)


# --------------------------------------------------------------------------------------
def profile_case(data: pd.DataFrame, spec: dict, out_path: Path, top: int = 15, label: str = "") -> dict:
    """cProfile one full fit; print where the time goes (engine functions first)."""
    profiler = cProfile.Profile()
    profiler.enable()
    fit_case(data, spec)
    profiler.disable()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(out_path))
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():
        rows.append({"function": func, "file": filename, "line": line, "calls": nc,
                     "tottime_s": tt, "cumtime_s": ct,
                     "engine": "pilottrial" in filename.replace("\\", "/")})
    engine = sorted((r for r in rows if r["engine"]), key=lambda r: -r["cumtime_s"])[:top]
    by_self = sorted(rows, key=lambda r: -r["tottime_s"])[:top]

    def short(r):
        path = r["file"].replace("\\", "/")
        tail = path.split("src/")[-1] if "pilottrial" in path else path.split("site-packages/")[-1]
        return f"{tail}:{r['line']}({r['function']})" if not r["file"].startswith("~") else r["function"]

    table = Table(f"Profile of one {label} fit under cProfile ({total:.2f} s with profiling "
                  f"overhead): engine functions by cumulative time",
                  [("function", 62), ("calls", 7), ("cumulative", 11), ("share", 6), ("self", 9)])
    for r in engine:
        table.row(short(r)[:62], r["calls"], f"{r['cumtime_s']:.3f} s",
                  f"{100 * r['cumtime_s'] / total:.0f}%", f"{r['tottime_s']:.3f} s")
    table = Table("Same profile: all functions by self time",
                  [("function", 62), ("calls", 7), ("self", 9), ("share", 6)])
    for r in by_self:
        table.row(short(r)[:62], r["calls"], f"{r['tottime_s']:.3f} s", f"{100 * r['tottime_s'] / total:.0f}%")
    print(f"(full profile: {out_path}; `python -m pstats {out_path}`)")
    return {"total_s": total, "stats_file": str(out_path),
            "engine_by_cumulative": [{k: r[k] for k in ("function", "file", "line", "calls", "tottime_s", "cumtime_s")}
                                     for r in engine],
            "by_self_time": [{k: r[k] for k in ("function", "file", "line", "calls", "tottime_s", "cumtime_s")}
                             for r in by_self]}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=None,
                        help="fits per median on fev_data and small simulated data (default 10; --quick 3)")
    parser.add_argument("--bcva-repeats", type=int, default=None, help="fits on bcva_data (default 3; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 10000-subject scaling point")
    parser.add_argument("--with-r-bcva", action="store_true",
                        help="time nlme::gls on bcva_data even with --quick (about a minute per fit)")
    parser.add_argument("--no-r-bcva", action="store_true", help="do not time nlme::gls on bcva_data")
    parser.add_argument("--no-lmm", action="store_true", help="skip the random-intercept LMM against lme4")
    parser.add_argument("--lmm-participants", type=int, default=10_000, help="participants of the LMM trial")
    parser.add_argument("--lmm-repeats", type=int, default=None, help="LMM fits, ours and lme4 (default 3; --quick 1)")
    parser.add_argument("--r-repeats", type=int, default=None, help="nlme::gls fits on fev_data (default 5; --quick 2)")
    parser.add_argument("--r-bcva-repeats", type=int, default=1, help="nlme::gls fits on bcva_data (default 1)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS threads (threadpoolctl here, OPENBLAS/OMP/MKL_NUM_THREADS in "
                             "subprocesses); default: leave the library defaults")
    parser.add_argument("--no-r", action="store_true", help="skip the R reference")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--profile", action="store_true", help="cProfile one fit of each reference dataset and print the top functions")
    parser.add_argument("--reference-dir", type=Path, default=None,
                        help="reference folder (default $PILOT_REFERENCE_DIR, else <repo>/../shared/reference)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT.relative_to(REPO)})")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 10
    if args.bcva_repeats is None:
        args.bcva_repeats = 1 if args.quick else 3
    if args.r_repeats is None:
        args.r_repeats = 2 if args.quick else 5
    if args.reference_dir is None:
        args.reference_dir = reference_dir()
    if args.lmm_repeats is None:
        args.lmm_repeats = 1 if args.quick else 3
    args.with_r_bcva = bool(args.with_r_bcva or not (args.quick or args.no_r_bcva))
    if min(args.repeats, args.bcva_repeats, args.r_repeats, args.r_bcva_repeats) < 1:
        parser.error("repeats must be at least 1")
    if args.blas_threads is not None and args.blas_threads < 1:
        parser.error("--blas-threads must be at least 1")
    return args


def run(args) -> dict:
    results: dict = {"schema_version": SCHEMA_VERSION, "meta": environment_meta(args),
                     "published": PUBLISHED, "memory": {}, "scaling": [], "r_gls": {}}
    meta = results["meta"]
    print(f"MMRM benchmark: pilottrial {meta['pilottrial']} ({meta['git_commit'] or 'no git'}), "
          f"Python {meta['python']}, numpy {meta['numpy']}, scipy {meta['scipy']}, pandas {meta['pandas']}")
    threads = ", ".join(f"{b['internal_api']} {b['version']}: {b['num_threads']} threads"
                        for b in meta["blas_threads"] or [])
    print(f"machine: {meta['platform']}, {meta['cpu_count']} CPUs; BLAS: {threads or 'unknown'}")
    print(f"reference data: {args.reference_dir}")
    print("time of one fit = fit_mmrm(us, REML) + treatment_contrasts (Satterthwaite df), wall clock; "
          "CPU = process time (all threads)")
    load = meta["load_at_start"]
    print(f"load average {load.get('loadavg_1_5_15')}, CPU pressure avg10 {load.get('cpu_pressure_some_avg10')}%")
    warning = busy_warning(load, meta["cpu_count"])
    if warning:
        print(warning)

    # ---- reference datasets --------------------------------------------------------------
    fits = Table("Reference data: unstructured covariance, REML, Satterthwaite",
                 [("case", 10), ("subjects", 8), ("obs", 6), ("fixed", 5), ("cov.par", 7), ("repeats", 7),
                  ("median", 10), ("min", 10), ("max", 10), ("CPU", 10), ("fit only", 10), ("contrasts", 9),
                  ("-2 REML logLik", 15), ("optimizer", 9)])
    data = {}
    for case in CASES:
        try:
            data[case] = load_case(case, args.reference_dir)
        except FileNotFoundError as exc:
            progress(f"skipping {case}: {exc}")
            results[case] = {"error": str(exc)}
            fits.row(case, "-", "-", "-", "-", "-", "missing data")
            continue
        repeats = args.repeats if case == "fev_data" else args.bcva_repeats
        progress(f"{case}: {repeats} fits")
        res = time_case(data[case], CASES[case], repeats, label=case, warmup=1 if case == "fev_data" else 0)
        res["formula"] = f"{CASES[case]['response']} ~ {CASES[case]['rhs']}"
        results[case] = res
        fits.row(case, res["n_subjects"], res["n_obs"], res["n_fixed"], format_number(res["n_cov_params"], "d"),
                 repeats, format_seconds(res["median_s"]), format_seconds(res["min_s"]),
                 format_seconds(res["max_s"]), format_seconds(res["cpu_median_s"]),
                 format_seconds(res["fit_only_median_s"]),
                 format_seconds(res["contrasts_median_s"]), f"{res['neg2_reml_loglik']:.4f}", res["optimizer"])

    # ---- memory ----------------------------------------------------------------------------
    if not args.no_memory:
        mem = Table("Peak memory: fresh subprocess per measurement (peak RSS = VmHWM; ru_maxrss beside)",
                    [("case", 14), ("peak RSS", 10), ("before fit", 10), ("fit adds", 10), ("ru_maxrss", 10),
                     ("fit time", 9)])
        jobs = [(case, {"kind": "reference", "case": case, "ref_dir": str(args.reference_dir)})
                for case in CASES if case in data]
        for case, job in jobs:
            progress(f"memory: {case} in a subprocess")
            m = measure_memory(job)
            results["memory"][case] = m
            if "error" in m:
                mem.row(case, "error: " + m["error"][:60])
                continue
            mem.row(case, f"{m['peak_rss_mb']:.0f} MB", f"{m['baseline_rss_mb']:.0f} MB",
                    f"{m['fit_increment_mb']:.0f} MB", f"{m['ru_maxrss_mb']:.0f} MB", format_seconds(m["seconds"]))

    # ---- scaling ---------------------------------------------------------------------------
    sizes = QUICK_SCALING_SIZES if args.quick else SCALING_SIZES
    scale = Table(f"Scaling: simulated trial (seed {SIM_SEED}; 4 visits, 2 arms, unstructured covariance, "
                  f"~15% monotone dropout; {SIM_CASE['response']} ~ {SIM_CASE['rhs']})",
                  [("subjects", 8), ("obs", 6), ("repeats", 7), ("median", 10), ("min", 10), ("CPU", 10),
                   ("per subject", 11), ("x previous", 10), ("peak RSS", 9), ("-2 REML logLik", 15)])
    previous = None
    for n in sizes:
        repeats = args.repeats if n <= 200 else max(1, min(args.repeats, 5 if n <= 1000 else 3))
        sim = simulate_trial(n)
        progress(f"scaling: {n} subjects, {repeats} fits")
        res = time_case(sim, SIM_CASE, repeats, label=f"sim n={n}", warmup=1 if n <= 200 else 0)
        entry = {"n_subjects": n, "n_rows": len(sim),
                 "dropout_subjects": int(sim.groupby("USUBJID", observed=True)["Y"].apply(lambda s: s.isna().any()).sum()),
                 **res}
        if not args.no_memory:
            mem_res = measure_memory({"kind": "sim", "n_subjects": n, "seed": SIM_SEED})
            entry["memory"] = mem_res
        growth = ratio(res["median_s"], previous)
        entry["growth_vs_previous"] = growth
        previous = res["median_s"]
        results["scaling"].append(entry)
        peak = entry.get("memory", {}).get("peak_rss_mb")
        scale.row(n, res["n_obs"], repeats, format_seconds(res["median_s"]), format_seconds(res["min_s"]),
                  format_seconds(res["cpu_median_s"]),
                  format_seconds(res["median_s"] / n), format_number(growth, ".2f", "x"),
                  format_number(peak, ".0f", " MB"), f"{res['neg2_reml_loglik']:.4f}")

    # ---- R reference -----------------------------------------------------------------------
    ok, reason = (False, "--no-r given") if args.no_r else r_available()
    rtab = Table("R reference: nlme::gls(corSymm + varIdent, REML), timed inside R (start-up excluded)",
                 [("case", 10), ("repeats", 7), ("R median", 10), ("ours fit", 10), ("R / fit", 8),
                  ("ours +contr.", 12), ("R / total", 9),
                  ("R -2 REML", 15), ("ours -2 REML", 15), ("|difference|", 12)])
    results["r_gls"]["available"] = ok
    if not ok:
        results["r_gls"]["reason"] = reason
    r_cases = [c for c in CASES if c in data and (c == "fev_data" or args.with_r_bcva)]
    for case in CASES:
        if case not in r_cases or not ok:
            why = reason if not ok else ("missing data" if case not in data else "skipped (--quick or --no-r-bcva)")
            results["r_gls"][case] = {"ok": False, "skipped": why}
            rtab.row(case, "-", why)
            continue
        repeats = args.r_repeats if case == "fev_data" else args.r_bcva_repeats
        progress(f"R nlme::gls on {case}: {repeats} fits" + (" (minutes)" if case == "bcva_data" else ""))
        r = run_r_gls(case_path(case, args.reference_dir), CASES[case], repeats,
                      warmup=1 if case == "fev_data" else 0, timeout=600 + 900 * repeats)
        ours = results.get(case, {})
        if r.get("ok"):
            r["neg2_loglik_abs_diff"] = abs(r["neg2_loglik"] - ours["neg2_reml_loglik"])
            rtab.row(case, repeats, format_seconds(r["median_s"]), format_seconds(ours["fit_only_median_s"]),
                     format_number(ratio(r["median_s"], ours["fit_only_median_s"]), ".1f", "x"),
                     format_seconds(ours["median_s"]),
                     format_number(ratio(r["median_s"], ours["median_s"]), ".1f", "x"),
                     f"{r['neg2_loglik']:.4f}", f"{ours['neg2_reml_loglik']:.4f}", f"{r['neg2_loglik_abs_diff']:.2e}")
        else:
            rtab.row(case, repeats, "failed: " + str(r.get("error"))[:70])
        results["r_gls"][case] = r

    # ---- ratios ----------------------------------------------------------------------------
    results["ratios"] = compute_ratios(results)
    ptab = Table("Ratios (> 1: ours faster). Published = R mmrm / nlme::gls, median of 10, published, other machine",
                 [("case", 10), ("ours median", 11), ("R gls here", 10), ("gls/ours", 8),
                  ("pub. mmrm", 9), ("mmrm/ours", 9), ("pub. gls", 8), ("gls/ours", 8)])
    for case in CASES:
        ours = results.get(case, {}).get("median_s")
        r = results["r_gls"].get(case, {})
        rat = results["ratios"][case]
        ptab.row(case, format_seconds(ours), format_seconds(r.get("median_s") if r.get("ok") else None),
                 format_number(rat["r_gls_over_ours"], ".1f", "x"),
                 format_seconds(PUBLISHED[case]["mmrm_s"]), format_number(rat["published_mmrm_over_ours"], ".2f", "x"),
                 format_seconds(PUBLISHED[case]["nlme_gls_s"]),
                 format_number(rat["published_gls_over_ours"], ".1f", "x"))

    for case in CASES:
        rat = results["ratios"][case]
        if rat["published_mmrm_scaled_to_this_machine_s"] is not None:
            print(f"{case}: R mmrm scaled to this machine by the nlme::gls times (x"
                  f"{rat['machine_factor_gls_here_over_published']:.2f}) ~ "
                  f"{format_seconds(rat['published_mmrm_scaled_to_this_machine_s'])}; "
                  f"that / ours = {rat['scaled_mmrm_over_ours']:.2f}x (rough estimate)")

    # ---- random-intercept LMM against lme4 ---------------------------------------------------
    if args.no_lmm:
        results["lmm"] = None
    else:
        bench_lmm = _load_bench_lmm()
        results["lmm"] = bench_lmm.run(args.lmm_participants, args.lmm_repeats, args.lmm_repeats,
                                       with_r=not args.no_r, progress=progress)
        bench_lmm.print_section(results["lmm"], Table, format_seconds)
        results["lmm_json"] = str(write_json_file(results["lmm"], args.out.with_name("lmm.json")))

    # ---- targets ---------------------------------------------------------------------------
    results["targets"] = evaluate_targets(results)
    ttab = Table("Targets (ours and the R reference timed in this run; ratio = R / ours)",
                 [("target", 74), ("ours", 10), ("R", 10), ("ratio", 7), ("value", 11), ("status", 12)])
    for t in results["targets"]:
        value = t["value"]
        shown = "-" if value is None else (f"{value:.1f}x" if t["unit"] == "x" else
                                           format_seconds(value) if t["unit"] == "s" else
                                           f"{value:.2f}x tol" if t["unit"] == "x tolerance" else f"{value:.0f} MB")
        ttab.row(t["target"], format_seconds(t.get("ours_s")), format_seconds(t.get("reference_s")),
                 format_number(t.get("ratio"), ".1f", "x"), shown,
                 t["status"].upper() if t["status"] == "not met" else t["status"])

    results["meta"]["load_at_end"] = machine_load()
    warning = busy_warning(results["meta"]["load_at_end"], meta["cpu_count"])
    if warning:
        print("\n" + warning)

    if args.profile:
        results["profiles"] = {}
        for case in data:
            stem = case.split("_")[0]
            results["profiles"][case] = profile_case(data[case], CASES[case],
                                                     args.out.with_name(f"mmrm_{stem}.prof"), label=case)
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(json.loads(args.memory_child)), default=_json_default))
        return 0
    started = time.perf_counter()
    limiter = None
    if args.blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)  # inherited by the subprocesses
        try:
            from threadpoolctl import threadpool_limits

            limiter = threadpool_limits(limits=args.blas_threads)
        except ImportError:
            progress("threadpoolctl not installed: --blas-threads applies to subprocesses only")
    try:
        results = run(args)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    results["meta"]["wall_time_s"] = time.perf_counter() - started
    path = write_json(results, args.out)
    print(f"\nwrote {path} (benchmark took {results['meta']['wall_time_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
