"""End to end: a trial folder outside the repository (its data file only) goes through
`pilottrial init`, `pilottrial check` and `pilottrial run` to its report, and the same folder runs
the workflow as a Snakemake module (a Snakefile with `module pilottrial: ...`)."""

import subprocess
import sys

import pytest
from cli_trials import simulate
from conftest import REPO_ROOT

pytestmark = pytest.mark.e2e


def pilottrial(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pilottrial", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def trial_folder(tmp_path_factory):
    """A small trial never seen before: 2 x 8 participants, HAM-D17 at "Week 0" < "Week 2" < "Week 6"."""
    folder = tmp_path_factory.mktemp("elsewhere") / "hamd pilot"
    folder.mkdir()
    frame = simulate(21, ["placebo", "psilocybin"], ["Week 6", "Week 0", "Week 2"], {"HAMD_17": (0, 52)})
    frame.to_csv(folder / "hamd_pilot.csv", index=False)
    return folder


def test_init_check_run_to_the_report(trial_folder):
    init = pilottrial("init", "hamd_pilot.csv", cwd=trial_folder)
    assert init.returncode == 0, init.stderr
    config = trial_folder / "trial.yaml"
    text = config.read_text()
    assert 'order: ["Week 0", "Week 2", "Week 6"]' in text and "range: [0, 52]" in text
    assert 'reference: "placebo"' in text
    # what a trialist edits in the draft: fewer imputations and re-randomizations for a quick first look
    config.write_text(text.replace("  alpha: 0.05\n", "  alpha: 0.05\n  imputations: 5\n  randomization_draws: 1000\n"
                                   "  tipping_delta_max: 4\n"))
    check = pilottrial("check", "trial.yaml", cwd=trial_folder)
    assert check.returncode == 0, check.stderr
    assert "participants: 16 (placebo (reference): 8, psilocybin (treatment): 8)" in check.stdout
    run = pilottrial("run", "trial.yaml", "--cores", "2", cwd=trial_folder)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = trial_folder / "results" / "hamd_pilot" / "report.html"
    assert f"report: {report}" in run.stdout and "100% done" in run.stdout
    assert report.is_file() and "HAM-D17" in report.read_text(encoding="utf-8")
    assert (trial_folder / "logs" / "pilottrial-run.log").is_file()
    assert not (REPO_ROOT / "results" / "hamd_pilot").exists()
    # a killed run leaves Snakemake's lock: the next run removes it and resumes
    locks = trial_folder / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "0.input.lock").write_text(str(report))
    again = pilottrial("run", "trial.yaml", "--cores", "2", cwd=trial_folder)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "resuming it" in again.stdout and f"report: {report}" in again.stdout


def test_trial_folder_as_a_snakemake_module(trial_folder, tmp_path):
    folder = tmp_path / "module trial"
    folder.mkdir()
    (folder / "hamd_pilot.csv").write_bytes((trial_folder / "hamd_pilot.csv").read_bytes())
    assert pilottrial("init", "hamd_pilot.csv", cwd=folder).returncode == 0
    (folder / "Snakefile").write_text(
        'module pilottrial:\n    snakefile:\n        "' + str(REPO_ROOT / "Snakefile") + '"\n'
        "    config:\n        config\n\n\nuse rule * from pilottrial\n")
    snakemake = str(REPO_ROOT / ".venv" / "bin" / "snakemake")
    dry = subprocess.run([snakemake if (REPO_ROOT / ".venv").is_dir() else "snakemake", "-n", "--cores", "1",
                          "--configfile", "trial.yaml"], cwd=folder, capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "results/hamd_pilot/report.html" in dry.stdout + dry.stderr
