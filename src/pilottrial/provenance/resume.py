"""Run the workflow so that it resumes after an interruption, without Snakemake folklore.

After Ctrl-C Snakemake removes the outputs of the jobs it stopped; after a killed run (a closed
terminal, an out-of-memory kill, a power cut) it leaves a lock on the working directory and
marks the outputs being written as incomplete. The next plain ``snakemake`` then refuses to run
until the user finds ``--unlock`` and ``--rerun-incomplete``. :func:`run_workflow` does what a
user expects instead: it removes a lock only when no Snakemake process is running in the
directory (so a second, concurrent run is still refused by Snakemake), reruns incomplete jobs,
and keeps every finished result.

Command line (``make`` runs it)::

    python -m pilottrial.provenance.resume [--cores N] [snakemake arguments ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["snakemake_running_in", "remove_stale_lock", "run_workflow", "main"]


def snakemake_running_in(directory, exclude=()) -> bool:
    """Whether a Snakemake process other than ``exclude`` (pids) has ``directory`` as its working directory.

    Reads ``/proc`` (Linux); elsewhere it answers True, so that a lock is never removed blindly.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    target = Path(directory).resolve()
    skip = {os.getpid(), *exclude}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if not any(part.endswith(b"snakemake") for part in cmdline[:2]):
                continue
            if Path(os.readlink(entry / "cwd")).resolve() == target:
                return True
        except (OSError, ValueError):
            continue
    return False


def remove_stale_lock(directory=".") -> bool:
    """Remove Snakemake's lock left by a killed run; True when there was one to remove."""
    locks = Path(directory) / ".snakemake" / "locks"
    files = list(locks.glob("*.lock")) if locks.is_dir() else []
    if not files or snakemake_running_in(directory):
        return False
    for file in files:
        file.unlink(missing_ok=True)
    return True


def run_workflow(args=(), directory=".", snakemake=None) -> int:
    """Run Snakemake in ``directory`` with ``--rerun-incomplete`` after removing a stale lock.

    Returns Snakemake's exit code.
    """
    snakemake = snakemake or str(Path(sys.executable).with_name("snakemake"))
    if remove_stale_lock(directory):
        print("pilottrial: the previous run was interrupted; resuming it (finished results are kept)",
              file=sys.stderr)
    command = [snakemake, "--rerun-incomplete", *args]
    return subprocess.run(command, cwd=directory).returncode


def main(argv=None) -> int:
    return run_workflow(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
