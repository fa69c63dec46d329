"""Benchmark of the whole pipeline (Snakemake, every rule, the report and its PDF); run by ``make bench``.

    python benchmarks/bench_pipeline.py [--reference REV] [--cases demo,noop,...] [--repeats N]
                                        [--fresh-make] [--out results/bench/pipeline.json]

Every case runs ``snakemake --cores 2`` (the machine's two cores) in a scratch copy of the
repository, once with the library of this checkout and once with the library, rules and scripts
of a reference revision (``--reference``, default the last commit before the speed work), in
the same run, so that each figure is printed beside its reference and the ratio, and beside the
issue's target:

* ``demo``: the demo trial from clean (11 jobs, report.html and report.pdf), target <= 20 s;
* ``noop`` and ``dryrun``: a rerun with nothing to do and ``snakemake -n``, target <= 1.5 s;
* ``visits11``: a 12-participant trial with 11 visits (baseline and 10 after; simulated,
  :func:`pilottrial.models.mmrm.simulate.simulate_trial`), whole pipeline, target <= 60 s;
* ``growth``: the demo trial simulated with 27, 200, 1,000 and 5,000 participants
  (:func:`pilottrial.demo.parallel.simulate_demo`), whole pipeline, with the peak memory of all
  the run's processes together (the largest sum of proportional set sizes over the process
  tree, sampled every 50 ms; PSS counts a page shared by several processes once); target for
  5,000: <= 90 s and <= 1 GB;
* ``--fresh-make``: ``make`` in a fresh clone (venv, pinned install, demo run), target <= 2 min
  (uses the network or pip's cache; not part of the default run).

Wall-clock times depend on what else runs on the machine: the load average is printed at the
start and the end. This is a benchmark: nothing here is a test with a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "results" / "bench" / "pipeline.json"
#: The last commit before the speed work of issue 11 (the reference run).
DEFAULT_REFERENCE = "8e36c75"
TARGETS = {"demo": 20.0, "noop": 1.5, "dryrun": 1.5, "visits11": 60.0, "growth-5000": 90.0, "fresh-make": 120.0}
MEMORY_TARGET_MB = {"growth-5000": 1024.0}
GROWTH = (27, 200, 1000, 5000)
CASES = ("demo", "noop", "dryrun", "visits11", "growth")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---- checkouts --------------------------------------------------------------------------------
def checkout(rev: str | None, into: Path) -> Path:
    """A copy of the repository's tracked files at ``rev`` (None: the working tree) in ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    if rev is None:
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                               check=True, capture_output=True).stdout.decode().split("\0")
        for name in filter(None, files):
            source = REPO / name
            if source.is_file():
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    else:
        archive = subprocess.run(["git", "archive", rev], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    # as `make install` does: the library's bytecode exists before the first run
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "src" / "pilottrial")], check=True)
    return into


def environment(tree: Path) -> dict:
    """The environment of a run of ``tree``: its own library first on the path (the venv's
    editable install points at this checkout), one BLAS thread per process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree / "src")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# ---- measuring -------------------------------------------------------------------------------
class TreeMemory(threading.Thread):
    """Largest total memory of a process and all its descendants (sampled): the sum of their
    proportional set sizes (PSS: each shared page counted once across the processes, shared
    libraries included), or of their resident set sizes where PSS cannot be read."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self._halt = pid, interval, 0, threading.Event()

    def run(self):
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += _pss(proc)
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        pass
            except psutil.NoSuchProcess:
                break
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval)

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return self.peak / 2**20


def _pss(proc: psutil.Process) -> int:
    """Proportional set size of a process (bytes); its resident set size if PSS is unavailable."""
    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return proc.memory_info().rss


def run(command: list, cwd: Path, env: dict, memory: bool = False) -> dict:
    """Run a command; its wall time (s), the CPU time of its children (s) and, optionally, the peak memory (MB)."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = TreeMemory(proc.pid) if memory else None
    if sampler:
        sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    after = os.times()
    peak = sampler.stop() if sampler else None
    if proc.returncode != 0:
        tail = output.decode(errors="replace").splitlines()[-25:]
        raise RuntimeError(f"{' '.join(map(str, command))} failed in {cwd}:\n" + "\n".join(tail))
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak}


def snakemake(tree: Path, *args) -> list:
    return [sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "rules", *args]


def clean(tree: Path) -> None:
    for name in ("results", "logs", ".snakemake"):
        shutil.rmtree(tree / name, ignore_errors=True)


# ---- trials ----------------------------------------------------------------------------------
def write_growth_trial(tree: Path, n: int) -> Path:
    """The demo trial simulated with ``n`` participants (n // 2 per arm; 27 is the bundled demo),
    its four files and the demo config pointing at them. Returns the config path."""
    from pilottrial.demo.parallel import simulate_demo
    from pilottrial.demo.parameters import DEMO_FILES

    config = yaml.safe_load((tree / "config" / "config.yaml").read_text(encoding="utf-8"))
    folder = tree / "data" / f"growth{n}"
    folder.mkdir(parents=True, exist_ok=True)
    tables = simulate_demo(n_per_arm=None if n == 27 else n // 2)
    for key, frame in tables.items():
        frame.to_csv(folder / DEMO_FILES[key], index=False, lineterminator="\n")
    relative = f"../data/growth{n}"
    config["trial"]["name"] = f"growth-{n}"
    config["data"]["path"] = f"{relative}/{DEMO_FILES['trial']}"
    config["harms"]["adverse_events"]["path"] = f"{relative}/{DEMO_FILES['adverse_events']}"
    config["harms"]["dissociation"]["path"] = f"{relative}/{DEMO_FILES['dissociation']}"
    config["feasibility"]["screening_log"]["path"] = f"{relative}/{DEMO_FILES['screening_log']}"
    path = tree / "config" / f"growth{n}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_visits11_trial(tree: Path) -> Path:
    """12 participants, a baseline and 10 visits after it (simulated unstructured MMRM data with
    monotone dropout), one outcome, no power. Returns the config path."""
    import numpy as np
    import pandas as pd

    from pilottrial.models.mmrm.simulate import simulate_trial

    sim = simulate_trial(12, n_visits=10, seed=11, dropout=0.2)
    subjects = sim.drop_duplicates("USUBJID")
    rows = [pd.DataFrame({"participant": subjects["USUBJID"], "arm": subjects["ARMCD"].astype(str),
                          "visit": "V00", "score": subjects["BASE"].round(1)})]
    post = pd.DataFrame({"participant": sim["USUBJID"], "arm": sim["ARMCD"].astype(str),
                         "visit": [f"V{int(v[3:]):02d}" for v in sim["AVISIT"].astype(str)],
                         "score": (sim["BASE"] + sim["Y"]).round(1)})
    data = pd.concat([*rows, post]).sort_values(["participant", "visit"], kind="stable")
    data["score"] = data["score"].astype(float).where(np.isfinite(data["score"]))
    folder = tree / "data" / "visits11"
    folder.mkdir(parents=True, exist_ok=True)
    data.to_csv(folder / "visits11.csv", index=False, lineterminator="\n")
    visits = ["V00", *[f"V{j:02d}" for j in range(1, 11)]]
    config = {
        "trial": {"name": "visits11", "design": "parallel", "title": "Twelve participants, eleven visits"},
        "data": {"path": "../data/visits11/visits11.csv", "layout": "long"},
        "columns": {"participant": "participant", "arm": "arm", "visit": "visit"},
        "arms": {"reference": "PBO", "treatment": "TRT"},
        "visits": {"baseline": "V00", "order": visits, "key": ["V05", "V10"]},
        "outcomes": [{"name": "Score", "column": "score", "better": "higher", "primary": True}],
    }
    path = tree / "config" / "visits11.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# ---- cases -----------------------------------------------------------------------------------
def case_runs(case: str, tree: Path, env: dict, repeats: int) -> dict:
    """Measure one case in one checkout; median wall over ``repeats`` (growth: one run per size)."""
    if case in ("demo", "noop", "dryrun"):
        walls, cpus = [], []
        for _ in range(repeats):
            if case == "demo":
                clean(tree)
                result = run(snakemake(tree), tree, env)
            else:
                if not (tree / "results" / "ketamine-ptsd-demo" / "MANIFEST.sha256").is_file():
                    run(snakemake(tree), tree, env)
                result = run(snakemake(tree, *(["-n"] if case == "dryrun" else [])), tree, env)
            walls.append(result["wall_s"])
            cpus.append(result["cpu_s"])
        return {case: {"wall_s": statistics.median(walls), "min_s": min(walls), "cpu_s": statistics.median(cpus),
                       "runs": walls}}
    if case == "visits11":
        config = write_visits11_trial(tree)
        clean(tree)
        return {case: run(snakemake(tree, "--configfile", str(config)), tree, env)}
    if case == "growth":
        out = {}
        for n in GROWTH:
            config = write_growth_trial(tree, n)
            clean(tree)
            progress(f"  {n} participants")
            out[f"growth-{n}"] = run(snakemake(tree, "--configfile", str(config)), tree, env, memory=True)
        return out
    raise ValueError(f"unknown case {case!r}")


def fresh_make(env: dict) -> dict:
    """``make`` in a fresh clone of this repository (install and demo run)."""
    with tempfile.TemporaryDirectory(prefix="pilottrial-fresh-") as scratch:
        clone = Path(scratch) / "pilottrial"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        shared = REPO.parent / "shared"
        if shared.exists():
            os.symlink(shared, Path(scratch) / "shared")
        env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
        return {"fresh-make": run(["make"], clone, env)}


# ---- report ----------------------------------------------------------------------------------
def table(results: dict) -> list[str]:
    lines = [f"{'case':<14} {'now s':>8} {'ref s':>8} {'ratio':>7} {'now MB':>8} {'ref MB':>8} {'target':>10}  verdict"]
    for name, now in results["current"].items():
        ref = results["reference"].get(name, {})
        ratio = ref.get("wall_s") / now["wall_s"] if ref.get("wall_s") and now["wall_s"] else None
        target = TARGETS.get(name)
        memory = MEMORY_TARGET_MB.get(name)
        ok = [now["wall_s"] <= target] if target else []
        ok += [now["peak_mb"] <= memory] if memory and now.get("peak_mb") is not None else []
        target_text = (f"<= {target:g} s" if target else "") + (f", {memory:g} MB" if memory else "")
        verdict = "" if not ok else ("met" if all(ok) else "NOT MET")

        def cell(value, fmt):
            return format(value, fmt) if value is not None else "-"

        lines.append(f"{name:<14} {cell(now['wall_s'], '8.2f')} {cell(ref.get('wall_s'), '8.2f')} "
                     f"{cell(ratio, '6.2f') + ('x' if ratio else ''):>7} {cell(now.get('peak_mb'), '8.0f')} "
                     f"{cell(ref.get('peak_mb'), '8.0f')} {target_text:>10}  {verdict}")
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default=DEFAULT_REFERENCE,
                        help=f"git revision of the reference run (default {DEFAULT_REFERENCE}); 'none' to skip")
    parser.add_argument("--current", default=None,
                        help="git revision measured as 'now' (default: the working tree, uncommitted changes included)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--repeats", type=int, default=3, help="runs of demo/noop/dryrun (median; default 3)")
    parser.add_argument("--fresh-make", action="store_true", help="also time `make` in a fresh clone")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        print(f"error: unknown case(s) {unknown}; choose from {list(CASES)}", file=sys.stderr)
        return 2
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_start": os.getloadavg()},
               "reference_rev": args.reference, "current": {}, "reference": {}}
    with tempfile.TemporaryDirectory(prefix="pilottrial-bench-") as scratch:
        trees = {"current": checkout(args.current, Path(scratch) / "current")}
        if args.reference.lower() != "none":
            trees["reference"] = checkout(args.reference, Path(scratch) / "reference")
        for case in cases:
            for label, tree in trees.items():
                progress(f"{case}: {label}")
                results[label].update(case_runs(case, tree, environment(tree), args.repeats))
        if args.fresh_make:
            progress("fresh-make: current")
            results["current"].update(fresh_make(environment(trees["current"])))
    results["machine"]["load_end"] = os.getloadavg()
    lines = table(results)
    print(f"pipeline benchmark: {args.current or 'this checkout'} vs {args.reference} (reference), "
          "snakemake --cores 2")
    print(f"load average at start {results['machine']['load_start'][0]:.2f}, end {results['machine']['load_end'][0]:.2f}")
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
