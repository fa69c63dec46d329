"""Check a trial's inputs before any job runs, once per content.

The workflow must stop on bad input with one line before any result is written, so the data
are checked when Snakemake starts. Reading and checking every file at every start (a dry run,
a no-op rerun) is wasted work, so a passed check is remembered under a digest of everything it
depends on: the validated config, the bytes of every input file it names and the library code
that does the checking. Any change to any of them checks again.

The check derives the analysis table on the way (a parallel trial); it is kept beside the
marker, so that the ingest job copies it instead of reading and checking the data a second time
(:func:`checked_analysis_table`; the same digest means the same config, data and library code,
hence the same table).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pilottrial.provenance.record import input_files, sha256_file
from pilottrial.provenance.sources import library_sources

__all__ = ["check_trial_inputs", "checked_analysis_table", "input_digest", "run_input_checks", "write_analysis_table"]

#: Where passed checks are remembered (one empty file per digest).
CACHE_DIR = Path(".snakemake") / "pilottrial-checked"
_LIBRARY = Path(__file__).resolve().parents[1]


def _library_digest() -> str:
    """Digest of the library code the checks run (this module and what it imports)."""
    digest = hashlib.sha256()
    for name in library_sources(__file__):
        path = Path(name)
        digest.update(str(path.relative_to(_LIBRARY)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def input_digest(config: dict) -> str:
    """SHA-256 over the validated config, the input files' contents and the library sources."""
    digest = hashlib.sha256()
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for item in input_files(config):
        path = Path(item["path"])
        digest.update(str(path).encode())
        digest.update(sha256_file(path).encode() if path.is_file() else b"<missing>")
    digest.update(_library_digest().encode())
    return digest.hexdigest()


def write_analysis_table(analysis, path) -> None:
    """Write the analysis table as the ingest rule does (CSV, no index, ``\\n`` line ends)."""
    analysis.to_csv(path, index=False, lineterminator="\n")


def run_input_checks(config: dict):
    """Read and check the trial data and the harms and screening files a config names.

    Everything that can be checked from the data is checked here, before any job runs: the
    data against the config (:func:`pilottrial.data.read_and_check`), then whether the primary
    analysis can run on them (:func:`pilottrial.data.checks.check_analysable`: the primary
    outcome followed up in both arms, at least 2 participants per arm, key visits scored in both
    arms, covariates that vary), then the harms and screening files and the progression criteria.

    Raises :class:`pilottrial.errors.InputError` (file, row, column and fix) on the first
    problem. Returns the analysis table of a parallel trial
    (:func:`pilottrial.data.derive_analysis_table`), None for a crossover.
    """
    if config["trial"]["design"] == "crossover":
        from pilottrial.data import read_trial_data
        from pilottrial.models.crossover import crossover_table

        crossover_table(read_trial_data(config), config)
        return None
    from pilottrial.analyses.feasibility import check_progression_criteria, read_screening_log
    from pilottrial.analyses.harms import read_harms
    from pilottrial.data import derive_analysis_table, read_and_check
    from pilottrial.data.checks import check_analysable

    frame, long = read_and_check(config)
    analysis = derive_analysis_table(frame, long)
    check_analysable(analysis, long)
    participants = frame[[long["columns"]["participant"], long["columns"]["arm"]]].drop_duplicates()
    participants.columns = ["participant", "arm"]
    read_harms(config, participants)
    read_screening_log(config)
    check_progression_criteria(config)
    return analysis


def check_trial_inputs(config: dict, cache_dir=CACHE_DIR) -> bool:
    """Check a trial's inputs unless the same inputs passed before; True when checked now."""
    marker = Path(cache_dir) / input_digest(config)
    if marker.is_file():
        return False
    analysis = run_input_checks(config)
    marker.parent.mkdir(parents=True, exist_ok=True)
    if analysis is not None:
        table = marker.with_suffix(".analysis.csv")
        tmp = table.with_suffix(f".tmp{os.getpid()}")
        write_analysis_table(analysis, tmp)
        tmp.replace(table)
    tmp = marker.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text("")
    tmp.replace(marker)
    return True


def checked_analysis_table(config: dict, cache_dir=CACHE_DIR) -> Path | None:
    """The analysis table derived by a passed input check of these very inputs (same config,
    input files and library code), or None when there is none."""
    marker = Path(cache_dir) / input_digest(config)
    table = marker.with_suffix(".analysis.csv")
    return table if marker.is_file() and table.is_file() else None
