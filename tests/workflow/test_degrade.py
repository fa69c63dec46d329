"""A valid but degenerate trial runs to its report (issue 14, item 2: only input errors stop the run).

Four participants per arm, six visits, a secondary outcome scored at baseline only, and power
planned for that outcome: the models, imputations, the GEE and the power plan cannot all be
estimated, so their tables get rows that say "not estimable: <reason>" -- and the run goes on
to report.html and report.pdf with exit 0 and no Python traceback on the console.
"""

from __future__ import annotations

import re
import subprocess

import pandas as pd
import pytest
from project import SNAKEMAKE, copy_project, project_env
from tiny_trials import QOL, tiny_trial

pytestmark = pytest.mark.e2e
RESULTS = "results/tiny"


@pytest.fixture(scope="module")
def degenerate_run(tmp_path_factory):
    workdir = copy_project(tmp_path_factory.mktemp("degenerate"))
    tiny_trial(workdir / "degenerate", n_per_arm=4, visits=("baseline", "w1", "w2", "w3", "w4", "w5"),
               key=("w2", "w5"), missing=0.15, seed=5,
               extra={"power": {"enabled": True, "outcome": QOL, "effect": ["mcid"], "n_per_arm": [10, 20],
                                "n_sims": 100, "shards": 1}})
    run = subprocess.run([SNAKEMAKE, "--cores", "2", "--configfile", "degenerate/config.yaml"], cwd=workdir,
                         capture_output=True, text=True, timeout=1200, env=project_env(workdir))
    return workdir, run


def test_degenerate_trial_runs_to_its_report_without_a_traceback(degenerate_run):
    workdir, run = degenerate_run
    console = run.stdout + run.stderr
    assert run.returncode == 0, console[-3000:]
    assert "Traceback" not in console and not re.search(r'^\s*File ".+", line \d+', console, re.MULTILINE)
    for name in ("report.html", "report.pdf"):
        assert (workdir / RESULTS / name).stat().st_size > 0


def test_what_cannot_be_estimated_is_in_the_tables_and_the_logs(degenerate_run):
    workdir, run = degenerate_run
    assert run.returncode == 0
    tables = workdir / RESULTS / "tables"
    imputation = pd.read_csv(tables / "multiple_imputation.csv")
    qol = imputation[imputation["outcome"] == QOL]
    assert len(qol) and (qol["note"] == f"not estimable: {QOL} has no post-baseline score").all()
    sensitivity = pd.read_csv(tables / "sensitivity.csv")
    assert sensitivity.loc[sensitivity["outcome"] == QOL, "note"].str.startswith("not estimable: ").all()
    sizes = pd.read_csv(workdir / RESULTS / "power" / "sample_size.csv")
    assert (sizes["note"] == f"not estimable: {QOL} has no change from baseline at power.visit w5").all()
    log = (workdir / "logs" / "tiny" / "sensitivity.log").read_text()  # the missing-data analyses run there
    assert f"multiple_imputation: {QOL}, w2, mi_mar: not estimable: {QOL} has no post-baseline score" in log
