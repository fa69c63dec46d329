"""Verify a run: rerun the pipeline from scratch and compare every output with the manifest.

:func:`verify` copies the project's pipeline (``Snakefile``, ``workflow/``, ``scripts/``,
``config/``, ``data/``, ``src/`` and any other input file a config names) into a temporary
directory, runs Snakemake there with the same config, and compares each trial's
``results/<trial>/`` with the ``MANIFEST.sha256`` the original run wrote, file by file. The
library imported by the rerun is the copied ``src/`` (``PYTHONPATH``), and the git commit the
rerun's provenance records is the project's (``PILOTTRIAL_GIT_COMMIT``), so a faithful rerun
reproduces every byte, the report and its PDF included.

Command line (``make verify`` runs the first form)::

    python -m pilottrial.provenance.verify                          # the demo config
    python -m pilottrial.provenance.verify --configfile trial.yaml  # another trial
    python -m pilottrial.provenance.verify --configfile a.yaml --configfile b.yaml   # several trials

It prints one line per file (``ok``, ``DIFFERS``, ``MISSING``, ``UNEXPECTED``) and exits 0 when
every file matches, 1 on any mismatch, 2 when the check could not be made (no manifest, the
rerun failed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from os import PathLike
from pathlib import Path

import pandas as pd

from pilottrial.config.load import load_config
from pilottrial.errors import InputError
from pilottrial.provenance.manifest import MANIFEST_NAME, compare_manifest, read_manifest
from pilottrial.provenance.record import GIT_COMMIT_ENV, git_commit, input_files

__all__ = ["verify", "copy_pipeline", "main", "PIPELINE_PATHS", "VerifyError"]

#: What a rerun needs from the project (the rest -- results, logs, .snakemake -- it makes itself).
PIPELINE_PATHS = ("Snakefile", "workflow", "scripts", "config", "data", "src")
DEFAULT_CONFIG = "config/config.yaml"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")


class VerifyError(RuntimeError):
    """The verification could not be made (no manifest, the rerun failed)."""


def _relative_inside(path: str, project: Path) -> str | None:
    """``path`` relative to ``project`` when it is a relative path inside it, else None."""
    candidate = Path(path)
    if candidate.is_absolute():
        return None
    resolved = (project / candidate).resolve()
    try:
        return resolved.relative_to(project.resolve()).as_posix()
    except ValueError:
        return None


def copy_pipeline(project: str | PathLike, dest: str | PathLike, extra: list[str] = ()) -> Path:
    """Copy :data:`PIPELINE_PATHS` and the relative ``extra`` files of ``project`` into ``dest``."""
    project, dest = Path(project), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PIPELINE_PATHS:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, dest / name, symlinks=True, ignore=_IGNORE, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, dest / name)
    for path in extra:
        relative = _relative_inside(path, project)
        if relative and (project / relative).is_file() and not (dest / relative).exists():
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / relative, dest / relative)
    return dest


def _snakemake_executable() -> str:
    beside = Path(sys.executable).parent / "snakemake"
    return str(beside) if beside.is_file() else "snakemake"


def verify(project: str | PathLike = ".", configfiles: list[str] | None = None, cores: str = "all",
           workdir: str | PathLike | None = None, keep: bool = False, echo=None) -> pd.DataFrame:
    """Rerun the pipeline from scratch in a temporary copy and compare it with the manifests.

    Parameters
    ----------
    project : path
        The project directory holding the original run's ``results/<trial>/MANIFEST.sha256``.
    configfiles : list of str, optional
        The config file(s) of the original run, as given to snakemake (relative to
        ``project``); none for the demo (``config/config.yaml``), several for a multi-trial
        run (``--config trials=...``).
    cores : str
        ``--cores`` of the rerun (the outputs do not depend on it).
    workdir : path, optional
        Where to rerun (default: a new temporary directory, removed afterwards unless ``keep``).
    keep : bool
        Keep the temporary copy (its path is in the snakemake log line).
    echo : callable, optional
        Called with progress lines (e.g. ``print``).

    Returns
    -------
    DataFrame
        ``trial, path, expected, actual, status`` for every file of every trial, status
        ``ok``, ``differs``, ``missing`` or ``unexpected``.

    Raises
    ------
    VerifyError
        If a manifest is missing or the rerun fails.
    """
    say = echo or (lambda line: None)
    project = Path(project).resolve()
    sources = list(configfiles or [])
    configs = []
    try:
        for source in sources or [DEFAULT_CONFIG]:
            configs.append((source, load_config(project / source if not Path(source).is_absolute() else source)))
    except InputError as error:
        raise VerifyError(str(error)) from None
    manifests = {}
    for _, config in configs:
        name = config["trial"]["name"]
        path = project / "results" / name / MANIFEST_NAME
        if not path.is_file():
            raise VerifyError(f"{path} not found -- run the pipeline first (make, or snakemake --cores all)")
        manifests[name] = read_manifest(path)
    extra = [s for s in sources] + [f["path"] for _, c in configs for f in input_files(c)]
    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="pilottrial-verify-")) if temporary else Path(workdir)
    try:
        copy_pipeline(project, root, extra)
        args = [_snakemake_executable(), "--cores", str(cores)]
        if len(sources) == 1:
            args += ["--configfile", sources[0]]
        elif len(sources) > 1:
            args += ["--config", "trials=" + ",".join(sources)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(root / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env[GIT_COMMIT_ENV] = git_commit(project)
        say(f"rerunning in {root}: {' '.join(args[1:]) or 'snakemake'}")
        run = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
        (root / "verify-snakemake.log").write_text(run.stdout + run.stderr, encoding="utf-8")
        if run.returncode != 0:
            tail = (run.stderr or run.stdout)[-2000:]
            raise VerifyError(f"the rerun failed (snakemake exit {run.returncode}):\n{tail}")
        frames = []
        for name, manifest in manifests.items():
            table = compare_manifest(manifest, root / "results" / name)
            table.insert(0, "trial", name)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)
    finally:
        if temporary and not keep:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pilottrial.provenance.verify",
        description="Rerun the pipeline from scratch in a temporary directory and compare every output "
                    "with results/<trial>/MANIFEST.sha256, file by file.")
    parser.add_argument("--configfile", action="append", default=[],
                        help="config file of the original run (repeat for several trials); default the demo")
    parser.add_argument("--project", default=".", help="project directory (default: the current one)")
    parser.add_argument("--cores", default="all", help="snakemake --cores for the rerun (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = parser.parse_args(argv)
    try:
        table = verify(args.project, args.configfile, cores=args.cores, keep=args.keep,
                       echo=lambda line: print(line, flush=True))
    except VerifyError as error:
        print(f"verify: {error}", file=sys.stderr)
        return 2
    labels = {"ok": "ok", "differs": "DIFFERS", "missing": "MISSING", "unexpected": "UNEXPECTED"}
    for row in table.itertuples():
        print(f"{labels[row.status]:<10} results/{row.trial}/{row.path}")
    bad = table[table["status"] != "ok"]
    print(f"{len(table) - len(bad)} of {len(table)} files match the manifest"
          + ("" if bad.empty else f"; {len(bad)} do not"))
    return 0 if bad.empty else 1


if __name__ == "__main__":
    sys.exit(main())
