"""The test gallery of issue 14: real-world-shaped trials, each run end to end to report.html and
report.pdf, and their MMRM contrasts checked against R.

The trials are listed in tests/gallery/gallery.yaml, one config each in tests/gallery/configs/.
Public two-arm longitudinal data sets shipped with Debian's R packages are exported at test time
by tests/gallery/export_r_trials.R (marked ``r``: skipped without R, a failure under CI=true);
the synthetic trials, one quirk each, are written at test time by tests/gallery/make_quirks.py.
Nothing in the gallery's data is committed.

Each trial runs in its own temporary copy of the project, with its config and data side by side
in ``gallery/``: ``snakemake --cores 2 --configfile gallery/<name>.yaml``, the copy's ``src/``
first on PYTHONPATH (so the run uses the library it copied, not the editable install).

Reference: tests/gallery/gallery_contrasts.R -- nlme::gls, unstructured covariance (corSymm +
varIdent), REML, change from baseline ~ baseline + covariates + arm * visit (as
pilottrial.models.primary), treatment - reference at each visit by emmeans. Estimates and SEs
agree within 1e-4 relative (to max(|estimate|, SE) of R, so that an estimate near zero is held
to the precision of its SE) wherever R's gls converges.

    .venv/bin/python -m pytest tests/test_gallery.py                 # the whole gallery
    .venv/bin/python -m pytest tests/test_gallery.py -k r-epil       # one trial
"""

from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT, require_r
from project import SNAKEMAKE, copy_project, project_env

GALLERY = REPO_ROOT / "tests" / "gallery"
MANIFEST = yaml.safe_load((GALLERY / "gallery.yaml").read_text(encoding="utf-8"))
TRIALS = {trial["name"]: trial for trial in MANIFEST["trials"]}
FEATURES = MANIFEST["features"]
R_PACKAGES = ("MASS", "nlme", "geepack", "emmeans", "yaml")
RTOL = 1e-4  # estimates and SEs against R, relative to max(|estimate|, SE)
TIMEOUT = 3600  # seconds for one trial's run


def gallery_params(*, r_compare_only: bool = False):
    return [pytest.param(name, id=name, marks=[pytest.mark.r] if trial["origin"] == "r" else [])
            for name, trial in TRIALS.items() if trial.get("r_compare") or not r_compare_only]


def config_of(name: str) -> dict:
    return yaml.safe_load((GALLERY / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))


def label(value) -> str:
    """A config label as text: YAML 8 is the visit "8"."""
    return str(value)


def same_label(value) -> str:
    """A key to match labels across tools: numbers by value ("8", "8.0"), text as it is."""
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


# --- the data: exported / generated once per module ------------------------------------------

@pytest.fixture(scope="module")
def r_exports(tmp_path_factory) -> Path:
    """The R data sets of the gallery, exported by export_r_trials.R into a temporary folder."""
    rscript = require_r(*R_PACKAGES)
    out = tmp_path_factory.mktemp("r_exports")
    run = subprocess.run([rscript, str(GALLERY / "export_r_trials.R"), str(out)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def quirk_files(tmp_path_factory) -> Path:
    """The synthetic trials of the gallery, written by make_quirks.py into a temporary folder."""
    out = tmp_path_factory.mktemp("quirks")
    run = subprocess.run([sys.executable, str(GALLERY / "make_quirks.py"), str(out)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


def data_folder(request, name: str) -> Path:
    return request.getfixturevalue("r_exports" if TRIALS[name]["origin"] == "r" else "quirk_files")


# --- one run per trial, shared by the tests of this module -----------------------------------

@dataclass
class GalleryRun:
    name: str
    workdir: Path
    returncode: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    @property
    def results(self) -> Path:
        return self.workdir / "results" / self.name

    @property
    def console(self) -> str:
        return self.stdout + self.stderr

    @property
    def traceback(self) -> bool:
        """A Python traceback on the console, as Python or as Snakemake prints it."""
        return "Traceback" in self.console or bool(re.search(r'^\s*File ".+", line \d+', self.console, re.MULTILINE))

    def failure(self) -> str:
        """Why the run failed, in one line: the first 'error:' line; else, for each failing rule,
        the exception in its log; else an exception raised while Snakemake read the workflow;
        each with the innermost pilottrial (or scripts/) frame raising it."""
        errors = [line for line in self.console.splitlines() if line.startswith("error:")]
        if errors:
            return errors[0]
        causes = {}
        for rule in re.finditer(r"Error in rule (\S+?):", self.console):
            log = re.search(r"^\s*log: (\S+)", self.console[rule.start():], flags=re.MULTILINE)
            path = self.workdir / log.group(1).rstrip(",") if log else None
            text = path.read_text(errors="replace") if path and path.is_file() else ""
            causes.setdefault(rule.group(1), f"rule {rule.group(1)}: {_exception(text)}{_frame(text)}")
        if causes:
            return "; ".join(causes.values())
        parse = re.search(r'^(\w+) in file "[^"]*?([^/"]+)", line \d+:\n(.*)$', self.console, re.MULTILINE)
        if parse:
            return f"while parsing {parse.group(2)}: {parse.group(1)}: {parse.group(3).strip()}{_frame(self.console)}"
        return self.console.strip().splitlines()[-1] if self.console.strip() else "(no output)"


def _exception(log: str) -> str:
    """The exception line of a traceback (the last line naming an Error or Exception)."""
    lines = [line.strip() for line in log.strip().splitlines()]
    named = [line for line in lines if re.match(r"[A-Za-z_][\w.]*(Error|Exception)\b", line)]
    return named[-1] if named else (lines[-1] if lines else "(empty log)")


def _frame(text: str) -> str:
    """' (at pilottrial/<module>.py:<line> in <function>)' for the innermost frame of ours."""
    frames = re.findall(r'File ".*?/((?:pilottrial|scripts)/[^"]+)", line (\d+), in (\S+)', text)
    return f" (at {frames[-1][0]}:{frames[-1][1]} in {frames[-1][2]})" if frames else ""


RUNS: dict[str, GalleryRun] = {}


def run_trial(name: str, data: Path, tmp_path_factory) -> GalleryRun:
    """Copy the project, put the trial's config and data in gallery/, run snakemake once."""
    if name in RUNS:
        return RUNS[name]
    workdir = copy_project(tmp_path_factory.mktemp(name))
    gallery = workdir / "gallery"
    gallery.mkdir()
    shutil.copy2(GALLERY / "configs" / f"{name}.yaml", gallery / f"{name}.yaml")
    for file in TRIALS[name]["data"]:
        shutil.copy2(data / file, gallery / file)
    # project_env: the copy's own library first, so every job analyses with the snapshot it copied
    run = subprocess.run([SNAKEMAKE, "--cores", "2", "--configfile", f"gallery/{name}.yaml"], cwd=workdir,
                         capture_output=True, text=True, timeout=TIMEOUT, env=project_env(workdir))
    (gallery / "snakemake.stdout").write_text(run.stdout)
    (gallery / "snakemake.stderr").write_text(run.stderr)
    RUNS[name] = GalleryRun(name, workdir, run.returncode, run.stdout, run.stderr)
    return RUNS[name]


def needs(name: str) -> str:
    features = TRIALS[name].get("needs") or []
    return f" [needs issue-14 feature(s): {', '.join(features)}]" if features else ""


# --- the tests -------------------------------------------------------------------------------

def test_gallery_manifest_names_a_config_data_and_known_features_for_every_trial():
    """gallery.yaml, configs/ and make_quirks.py agree (cheap: nothing runs)."""
    sys.path.insert(0, str(GALLERY))
    try:
        from make_quirks import QUIRKS
    finally:
        sys.path.remove(str(GALLERY))
    configs = {p.stem for p in (GALLERY / "configs").glob("*.yaml")}
    assert configs == set(TRIALS), f"configs without a gallery entry or the reverse: {configs ^ set(TRIALS)}"
    assert len(TRIALS) >= 8
    exported = re.findall(r'"([\w.]+\.csv)"\)', (GALLERY / "export_r_trials.R").read_text(encoding="utf-8"))
    for name, trial in TRIALS.items():
        config = config_of(name)
        assert config["trial"]["name"] == name
        assert config["data"]["path"] == trial["data"][0], "data.path is the file beside the config"
        assert set(trial.get("needs") or []) <= set(FEATURES), f"{name}: unknown feature in {trial['needs']}"
        assert config.get("power", {}).get("enabled") is False, f"{name}: power simulations make the gallery slow"
        known = exported if trial["origin"] == "r" else list(QUIRKS)
        assert set(trial["data"]) <= set(known), f"{name}: {trial['data']} is written by neither script"


@pytest.mark.e2e
@pytest.mark.parametrize("name", gallery_params())
def test_gallery_trial_runs_to_report(name, request, tmp_path_factory):
    run = run_trial(name, data_folder(request, name), tmp_path_factory)
    refused = TRIALS[name].get("refused")
    if refused:  # a trial the pipeline must refuse: one line, no traceback, nothing written
        errors = [line for line in run.console.splitlines() if line.startswith("error:")]
        assert run.returncode != 0 and len(errors) == 1 and refused in errors[0], run.console[-2000:]
        assert not run.traceback and not run.results.exists()
        return
    if run.returncode != 0:
        pytest.fail(f"{name}: exit {run.returncode}: {run.failure()}{needs(name)}", pytrace=False)
    assert not run.traceback, f"{name}: a traceback on the console{needs(name)}"
    for report in ("report.html", "report.pdf"):
        assert (run.results / report).is_file(), f"{name}: no {report}{needs(name)}"

    config = config_of(name)
    contrasts = pd.read_csv(run.results / "tables" / "contrasts.csv", dtype={"outcome": str, "visit": str},
                            keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    mmrm = contrasts[contrasts["model"] == "mmrm"]
    assert len(mmrm), f"{name}: no MMRM contrast in tables/contrasts.csv"
    numbers = mmrm[["estimate", "std_error", "df"]].apply(pd.to_numeric, errors="coerce")
    finite = numbers.apply(lambda c: c.map(math.isfinite)).all(axis=1)
    # a contrast that could not be estimated is explained in models.csv (note: "not estimable: ...")
    models = pd.read_csv(run.results / "tables" / "models.csv", dtype={"outcome": str}, keep_default_na=False)
    noted = set(models.loc[(models["model"] == "mmrm") & models.get("note", "").astype(str).str.strip().ne(""),
                           "outcome"]) if "note" in models else set()
    explained = mmrm["outcome"].isin(noted)
    unexplained = mmrm[~finite & ~explained]
    assert unexplained.empty, (f"{name}: MMRM contrasts without a finite estimate/SE/df and without a reason:\n"
                               f"{unexplained.to_string()}")
    # labels are the config's, as text: visit 8 is "8", not "8.0"
    visits = {label(v) for v in config["visits"]["order"]}
    assert set(contrasts["visit"].astype(str)) <= visits, \
        f"{name}: visit labels {sorted(set(contrasts['visit'].astype(str)) - visits)} are not the config's {sorted(visits)}"
    outcomes = [o["name"] for o in config["outcomes"]]
    assert set(contrasts["outcome"]) <= set(outcomes), f"{name}: outcomes {set(contrasts['outcome'])} vs {outcomes}"
    # every outcome is named in the report (analysed, or said why not)
    report = (run.results / "report.html").read_text(encoding="utf-8")
    missing = [o for o in outcomes if html.escape(o) not in report and o not in report]
    assert not missing, f"{name}: the report does not name the outcome(s) {missing}"


def r_input(name: str, data: Path, folder: Path) -> Path:
    """The trial's data as a CSV for R, header on line 1 (Excel: data.sheet and data.header_row
    applied; SPSS: value labels applied, user-missing values missing)."""
    config = config_of(name)
    path = data / TRIALS[name]["data"][0]
    if path.suffix == ".csv":
        return path
    if path.suffix == ".xlsx":
        frame = pd.read_excel(path, sheet_name=config["data"].get("sheet", 0),
                              header=config["data"].get("header_row", 1) - 1)
    elif path.suffix == ".sav":
        import pyreadstat

        frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
    else:
        raise AssertionError(f"no conversion for {path.suffix}")
    out = folder / f"{name}.csv"
    frame.to_csv(out, index=False)
    return out


@pytest.mark.e2e
@pytest.mark.r
@pytest.mark.parametrize("name", gallery_params(r_compare_only=True))
def test_gallery_mmrm_matches_r_gls_unstructured_reml(name, request, tmp_path_factory, tmp_path):
    rscript = require_r(*R_PACKAGES)
    data = data_folder(request, name)
    reference_csv = tmp_path / "r_contrasts.csv"
    r_run = subprocess.run([rscript, str(GALLERY / "gallery_contrasts.R"), str(GALLERY / "configs" / f"{name}.yaml"),
                            str(r_input(name, data, tmp_path)), str(reference_csv)], capture_output=True,
                           text=True, timeout=900)
    assert r_run.returncode == 0, r_run.stderr[-2000:]
    reference = pd.read_csv(reference_csv, keep_default_na=False, na_values=[""])
    converged = reference[reference["converged"].astype(str).str.upper() == "TRUE"]
    if converged.empty:
        pytest.skip(f"{name}: R's unstructured gls does not converge ({reference['message'].iloc[0]}): "
                    f"nothing to compare")

    run = run_trial(name, data, tmp_path_factory)
    contrasts_csv = run.results / "tables" / "contrasts.csv"
    if not contrasts_csv.is_file():
        pytest.fail(f"{name}: no tables/contrasts.csv to compare (the run failed: {run.failure()}){needs(name)}",
                    pytrace=False)
    ours = pd.read_csv(contrasts_csv, dtype={"outcome": str, "visit": str}, keep_default_na=False,
                       na_values=["", "NA", "NaN", "nan"]).query("model == 'mmrm'")
    models = pd.read_csv(run.results / "tables" / "models.csv").query("model == 'mmrm'")
    structure = dict(zip(models["outcome"], models["covariance"]))
    fell_back = {o: s for o, s in structure.items() if o in set(converged["outcome"]) and s != "us"}
    assert not fell_back, f"{name}: R's unstructured gls converges but pilottrial used {fell_back}"

    ours = ours.assign(key=ours["visit"].map(same_label))
    theirs = converged.assign(key=converged["visit"].map(same_label))
    merged = theirs.merge(ours, on=["outcome", "key"], how="left", suffixes=("_r", ""))
    unmatched = merged[merged["estimate"].isna()]
    assert unmatched.empty, (f"{name}: R contrasts without a pilottrial row: "
                             f"{unmatched[['outcome', 'visit_r']].values.tolist()}; pilottrial has "
                             f"{ours[['outcome', 'visit']].values.tolist()}")
    scale = merged[["estimate_r", "std_error_r"]].abs().max(axis=1)
    worst = {
        "estimate": ((merged["estimate"] - merged["estimate_r"]).abs() / scale).max(),
        "std_error": ((merged["std_error"] - merged["std_error_r"]).abs() / merged["std_error_r"]).max(),
    }
    table = merged[["outcome", "visit", "estimate", "estimate_r", "std_error", "std_error_r"]].to_string()
    assert worst["estimate"] < RTOL and worst["std_error"] < RTOL, f"{name}: worst relative {worst}\n{table}"
