"""Provenance of a run: input checksums, package versions, git commit, the command to reproduce.

Nothing here depends on the time or the machine's clock, so a rerun gives the same record.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

__all__ = ["sha256_file", "package_versions", "git_commit", "input_files", "provenance", "GIT_COMMIT_ENV"]

PACKAGES = ["pilottrial", "numpy", "pandas", "scipy", "statsmodels", "formulaic", "pandera", "matplotlib",
            "seaborn", "jinja2", "snakemake", "weasyprint", "pydyf"]
#: When set, :func:`git_commit` returns this value (``pilottrial.provenance.verify`` sets it for its rerun
#: in a temporary copy, which is not a git checkout).
GIT_COMMIT_ENV = "PILOTTRIAL_GIT_COMMIT"


def sha256_file(path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions(names=PACKAGES) -> dict:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(directory=".") -> str:
    """Commit of the working tree, with '+dirty' when tracked files changed; 'unknown' outside git.

    The environment variable ``PILOTTRIAL_GIT_COMMIT`` overrides it.
    """
    if os.environ.get(GIT_COMMIT_ENV):
        return os.environ[GIT_COMMIT_ENV]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def input_files(config: dict) -> list[dict]:
    """Every input file the config names: ``[{"role", "path"}]`` (trial data, harms, screening log)."""
    files = [{"role": "trial data", "path": str(config["data"]["path"])}]
    harms = config.get("harms") or {}
    if harms.get("adverse_events"):
        files.append({"role": "adverse events", "path": str(harms["adverse_events"]["path"])})
    if harms.get("dissociation"):
        name = harms["dissociation"].get("name", "dissociation")
        files.append({"role": f"dissociation ({name})", "path": str(harms["dissociation"]["path"])})
    log = (config.get("feasibility") or {}).get("screening_log")
    if log:
        files.append({"role": "screening log", "path": str(log["path"])})
    return files


def provenance(config: dict, config_path: str | None = None) -> dict:
    """Everything the report's provenance sections show.

    Returns
    -------
    dict
        ``config_yaml`` (the config as used), ``inputs`` (role, path, sha256 of every input
        file), ``data_path``/``data_sha256`` (the trial data), ``packages``, ``python``,
        ``git_commit``, ``command`` (the snakemake command that reproduces the run),
        ``make_command`` and ``verify_command``.
    """
    data_path = config["data"]["path"]
    command = "snakemake --cores all" + (f" --configfile {config_path}" if config_path else "")
    inputs = [dict(item, sha256=sha256_file(item["path"])) for item in input_files(config)]
    return {
        "config_yaml": yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        "data_sha256": sha256_file(data_path),
        "data_path": str(Path(data_path)),
        "inputs": inputs,
        "packages": package_versions(),
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "command": command,
        "make_command": "make",
        "verify_command": ("make verify" if config_path in (None, "config/config.yaml")
                           else f"python -m pilottrial.provenance.verify --configfile {config_path}"),
    }
