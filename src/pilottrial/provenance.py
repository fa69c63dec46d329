"""Provenance of a run: input checksum, package versions, git commit, the command."""

from __future__ import annotations

import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

__all__ = ["sha256_file", "package_versions", "git_commit", "provenance"]

PACKAGES = ["pilottrial", "numpy", "pandas", "scipy", "statsmodels", "formulaic", "pandera", "matplotlib",
            "seaborn", "jinja2", "snakemake"]


def sha256_file(path) -> str:
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
    """Commit of the working tree, with '+dirty' when tracked files changed; 'unknown' outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(config: dict, config_path: str | None = None) -> dict:
    """Everything the report's provenance section shows."""
    data_path = config["data"]["path"]
    command = "snakemake --cores all" + (f" --configfile {config_path}" if config_path else "")
    return {
        "config_yaml": yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        "data_sha256": sha256_file(data_path),
        "data_path": str(Path(data_path)),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "command": command,
    }
