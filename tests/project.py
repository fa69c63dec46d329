"""A temporary copy of the project for tests that run the workflow (shared by tests/workflow/,
tests/provenance/ and the gallery).

    from project import SNAKEMAKE, copy_project, snakemake

``copy_project(dest)`` copies what ``make run`` needs (Snakefile, workflow/, scripts/, config/,
data/, src/) into ``dest``; ``snakemake(workdir, *args)`` runs the venv's Snakemake there on two
cores and asserts success unless ``check=False``; ``power_project`` adds a config that enables
power; ``project_env`` puts the copy's ``src/`` first on PYTHONPATH, so every job uses the
library that was copied.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO_ROOT

__all__ = ["SNAKEMAKE", "PROJECT_PARTS", "copy_project", "snakemake", "digest", "power_project", "project_env"]

#: The venv's snakemake executable.
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
#: What a copy of the project holds.
PROJECT_PARTS = ("Snakefile", "workflow", "scripts", "config", "data", "src")


def copy_project(dest: Path) -> Path:
    """Copy the project's :data:`PROJECT_PARTS` into ``dest`` (created if needed); returns ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_PARTS:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def snakemake(workdir, *args, check=True) -> subprocess.CompletedProcess:
    """``snakemake --cores 2 *args`` in ``workdir`` (15 min timeout); asserts exit 0 unless ``check=False``."""
    run = subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=workdir, capture_output=True, text=True,
                         timeout=900)
    if check:
        assert run.returncode == 0, run.stderr[-3000:]
    return run


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def power_project(dest: Path, power_block: dict) -> Path:
    """A copy of the project whose config (config/power.yaml) enables power with ``power_block``."""
    copy_project(dest)
    config = yaml.safe_load((dest / "config" / "config.yaml").read_text())
    config["power"] = power_block
    (dest / "config" / "power.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def project_env(project: Path) -> dict:
    """The environment for Snakemake in ``project``: its ``src/`` on PYTHONPATH, the venv first on PATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(project / "src")  # the copy's library, in every job
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env
