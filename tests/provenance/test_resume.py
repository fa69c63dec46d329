"""Recovery without Snakemake folklore: a killed run resumes with the documented command."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project import SNAKEMAKE, copy_project, project_env

from pilottrial.provenance.resume import remove_stale_lock, snakemake_running_in


def _lock(directory: Path) -> Path:
    locks = directory / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    lock = locks / "0.input.lock"
    lock.write_text("results/x\n")
    return lock


def test_a_stale_lock_is_removed(tmp_path):
    lock = _lock(tmp_path)
    assert remove_stale_lock(tmp_path) is True
    assert not lock.exists()
    assert remove_stale_lock(tmp_path) is False  # nothing left to remove


def test_the_lock_of_a_running_snakemake_is_kept(tmp_path):
    lock = _lock(tmp_path)
    fake = tmp_path / "bin" / "snakemake"  # a process whose command is .../snakemake, running in tmp_path
    fake.parent.mkdir()
    fake.write_text("import time\ntime.sleep(30)\n")
    process = subprocess.Popen([sys.executable, str(fake)], cwd=tmp_path)
    try:
        deadline = time.time() + 10
        while not snakemake_running_in(tmp_path) and time.time() < deadline:
            time.sleep(0.05)
        assert snakemake_running_in(tmp_path)
        assert remove_stale_lock(tmp_path) is False
        assert lock.exists()
    finally:
        process.kill()
        process.wait()


@pytest.mark.e2e
def test_a_killed_run_resumes_with_make_run_command(tmp_path):
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    results = project / "results" / "ketamine-ptsd-demo"
    env = project_env(project)  # every run uses the copy's library (the rules list its files as inputs)
    run = subprocess.Popen([SNAKEMAKE, "--cores", "2", "--config", "trials=config/crossover.yaml"], cwd=project,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    crossover = project / "results" / "ketamine-ptsd-crossover-demo"
    deadline = time.time() + 300
    while not (crossover / "tables" / "contrasts.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # as a closed terminal or an out-of-memory kill would
    run.wait()
    assert list((project / ".snakemake" / "locks").glob("*.lock")), "a killed run leaves its lock"
    plain = subprocess.run([SNAKEMAKE, "--cores", "2", "--config", "trials=config/crossover.yaml"], cwd=project,
                           env=env, capture_output=True, text=True)
    assert plain.returncode != 0, plain.stderr  # the folklore the user is spared
    print(plain.stderr[-1500:])
    resumed = subprocess.run([sys.executable, "-m", "pilottrial.provenance.resume", "--cores", "2",
                              "--config", "trials=config/crossover.yaml"], cwd=project, capture_output=True,
                             text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stderr
    assert (crossover / "MANIFEST.sha256").is_file() and not results.exists()
    again = subprocess.run([SNAKEMAKE, "-n", "--config", "trials=config/crossover.yaml"], cwd=project,
                           env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "Nothing to be done" in (again.stdout + again.stderr), again.stdout[-3000:]
