"""The `pilottrial` command (pilottrial.cli.main): init writes a config that passes check, check
summarises the trial (counts checked against pandas on the raw file), errors are one line with
exit code 1, run plans the workflow in the trial's own folder."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml
from cli_trials import write_redcap_csv
from conftest import REPO_ROOT

from pilottrial.cli.main import main
from pilottrial.cli.run import run_plan

DEMO_CSV = REPO_ROOT / "data" / "demo" / "ketamine_ptsd_demo.csv"


@pytest.fixture()
def trial_folder(tmp_path):
    folder = tmp_path / "my trial"
    folder.mkdir()
    (folder / "ketamine_export.csv").write_bytes(DEMO_CSV.read_bytes())
    return folder


def test_init_then_check(trial_folder, capsys):
    data = trial_folder / "ketamine_export.csv"
    assert main(["init", str(data)]) == 0
    out = capsys.readouterr().out
    config_path = trial_folder / "trial.yaml"
    assert f"wrote {config_path}" in out and "to decide: which outcome is primary" in out
    config = yaml.safe_load(config_path.read_text())
    assert config["data"]["path"] == "ketamine_export.csv"  # relative to the config's folder
    assert config["trial"]["name"] == "ketamine_export"
    assert main(["check", str(config_path)]) == 0
    summary = capsys.readouterr().out
    raw = pd.read_csv(DEMO_CSV)
    per_arm = raw.drop_duplicates("participant")["arm"].value_counts()
    assert (f"participants: {raw['participant'].nunique()} (midazolam (reference): {per_arm['midazolam']}, "
            f"ketamine (treatment): {per_arm['ketamine']})") in summary
    assert "visits: baseline (baseline), 24h*, 7d*, 30d*" in summary
    n = raw["participant"].nunique()
    for visit in ["baseline", "24h", "7d", "30d"]:
        at = raw[raw["visit"] == visit]
        missing = [n - int(at[c].notna().sum()) for c in ("caps5", "pcl5", "madrs")]
        line = next(line for line in summary.splitlines() if line.split()[:1] == [visit])
        assert line.split()[1:4] == [f"{m}/{n}" for m in missing]
    assert "CAPS-5 (primary, range 0-80, lower is better)" in summary
    assert "Amygdala reactivity (mechanism, lower is better)" in summary


def test_init_refuses_to_overwrite(trial_folder, capsys):
    data = trial_folder / "ketamine_export.csv"
    assert main(["init", str(data)]) == 0
    capsys.readouterr()
    assert main(["init", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert main(["init", str(data), "--force"]) == 0


def test_init_guesses_identifiers_and_missing_codes(tmp_path, capsys):
    path, truth = write_redcap_csv(tmp_path)
    assert main(["init", str(path), "--out", str(tmp_path / "redcap.yaml")]) == 0
    assert "identifiers: ['dob'] would be refused" in capsys.readouterr().out
    config = yaml.safe_load((tmp_path / "redcap.yaml").read_text())
    assert config["data"]["drop_columns"] == ["dob"] and config["data"]["missing_codes"] == [-99]
    assert main(["check", str(tmp_path / "redcap.yaml")]) == 0


def test_bad_data_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "export.xlsx"
    path.write_text("this is not a spreadsheet")
    assert main(["init", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "export.xlsx" in err and "Traceback" not in err


def test_check_names_the_problem_in_one_line(trial_folder, capsys):
    assert main(["init", str(trial_folder / "ketamine_export.csv")]) == 0
    config_path = trial_folder / "trial.yaml"
    text = config_path.read_text().replace("range: [0, 60]", "range: [0, 40]")  # MADRS scores up to 46
    config_path.write_text(text)
    capsys.readouterr()
    assert main(["check", str(config_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "column 'madrs'" in err and "outside its range [0, 40]" in err


def test_python_dash_m_and_usage_errors():
    run = subprocess.run([sys.executable, "-m", "pilottrial", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("pilottrial ")
    run = subprocess.run([sys.executable, "-m", "pilottrial", "frobnicate"], capture_output=True, text=True)
    assert run.returncode == 2 and "invalid choice" in run.stderr


def test_run_plan_uses_the_trial_folder(trial_folder):
    config = trial_folder / "trial.yaml"
    config.write_text("trial: {name: x}\n")
    workdir, command = run_plan(config, cores=3)
    assert workdir == trial_folder.resolve()
    assert command[command.index("--snakefile") + 1] == str(REPO_ROOT / "Snakefile")
    assert command[command.index("--configfile") + 1] == "trial.yaml"
    assert command[command.index("--cores") + 1] == "3" and "--rerun-incomplete" in command
    workdir, command = run_plan(REPO_ROOT / "config" / "config.yaml")
    assert workdir == REPO_ROOT and command[command.index("--configfile") + 1] == "config/config.yaml"
