"""The demo trial's report, built once per test session for the report tests.

The result tables come from ``results/ketamine-ptsd-demo/tables`` when the pipeline has run
(``make``), else from a fresh Snakemake run in a temporary copy of the project. The figures are
drawn here with the library (:mod:`pilottrial.report.figures`) into a
temporary folder, under the names :func:`pilottrial.report.sections.report_figure_specs` expects,
so the tests see the report with every figure whatever the workflow's rules produce.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

import pilottrial.report.figures as rf
from pilottrial.analyses.feasibility import read_screening_log
from pilottrial.config.load import validate_config
from pilottrial.data import read_trial_data
from pilottrial.provenance.record import provenance
from pilottrial.registry import TABLE_NAMES, outcome_slug, report_figure_specs
from pilottrial.report.document import read_tables, render_report

REPO_ROOT = Path(__file__).resolve().parents[1]
TRIAL = "ketamine-ptsd-demo"
# power tables live under power/ and the planning section has its own test
REQUIRED = [n for n in TABLE_NAMES if n not in ("table_one", "sample_size", "power_curve")]


@dataclass
class DemoReport:
    config: dict
    tables: dict
    figures: dict
    provenance: dict
    html: str
    workdir: Path


_CACHE: dict[str, DemoReport] = {}


def _tables_dir(workdir: Path) -> Path:
    own = REPO_ROOT / "results" / TRIAL / "tables"
    if all((own / f"{name}.csv").is_file() for name in REQUIRED):
        return own
    project = workdir / "project"
    for name in ["Snakefile", "workflow", "scripts", "config", "data", "src"]:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            project.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    snakemake = str(Path(sys.executable).parent / "snakemake")
    targets = [f"results/{TRIAL}/tables/{name}.csv" for name in REQUIRED]
    run = subprocess.run([snakemake, "--cores", "2", *targets], cwd=project, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    return project / "results" / TRIAL / "tables"


def _draw_figures(config: dict, tables: dict, analysis: pd.DataFrame, out: Path) -> dict:
    specs = report_figure_specs(config, str(out))
    screening = read_screening_log(config)
    efficacy = [o["name"] for o in config["outcomes"] if o.get("role", "efficacy") != "mechanism"]
    primary = next(o["name"] for o in config["outcomes"] if o.get("primary"))
    fig = out / "figures"
    rf.plot_consort(analysis, config, screening, fig / "consort.png")
    for name in efficacy:
        slug = outcome_slug(name)
        rf.plot_mean_score(analysis, name, config, fig / f"{slug}_mean_score.png")
        rf.plot_residuals(analysis, name, config, fig / f"{slug}_residuals.png")
    for o in config["outcomes"]:
        rf.plot_mean_change(analysis, o["name"], config, fig / f"{outcome_slug(o['name'])}_mean_change.png")
    rf.plot_trajectories(analysis, primary, config, fig / f"{outcome_slug(primary)}_trajectories.png")
    rf.plot_forest(tables["contrasts"], config, fig / "forest.png", multiplicity=tables["multiplicity"],
                   effect_sizes=tables["effect_sizes"])
    rf.plot_waterfall(analysis, primary, config, fig / f"{outcome_slug(primary)}_waterfall.png")
    rf.plot_responders(tables["responders"], config, fig / "responders.png")
    rf.plot_missing_pattern(analysis, config, fig / f"{outcome_slug(primary)}_missing_pattern.png", outcome=primary)
    rf.plot_tipping(tables["tipping_point"], config, fig / "tipping_point.png")
    missing = [key for key, spec in specs.items() if not Path(spec["path"]).is_file()]
    assert not missing, f"figures not drawn: {missing}"
    return specs


def demo_report() -> DemoReport:
    """The demo report (built on first use, then cached for the session)."""
    if "demo" in _CACHE:
        return _CACHE["demo"]
    workdir = Path(tempfile.mkdtemp(prefix="pilottrial-demo-report-"))
    config = validate_config(yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text(encoding="utf-8")),
                             base_dir=REPO_ROOT / "config")
    config["power"]["enabled"] = False  # this report is built from the tables; planning is tested on its own
    tables_dir = _tables_dir(workdir)
    analysis = pd.read_csv(tables_dir.parent / "data" / "analysis.csv")
    tables = read_tables(tables_dir)
    cwd = Path.cwd()
    try:
        import os

        os.chdir(REPO_ROOT)  # the config's data paths are relative to the project
        tables["table_one"] = rf.table_one(analysis, read_trial_data(config), config)
        figures = _draw_figures(config, tables, analysis, workdir / "results")
        record = provenance(config, "config/config.yaml")
    finally:
        os.chdir(cwd)
    html = render_report(config, tables, figures, record)
    _CACHE["demo"] = DemoReport(config, tables, figures, record, html, workdir)
    return _CACHE["demo"]
