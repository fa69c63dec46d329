"""``MANIFEST.sha256``: the SHA-256 of every output of a trial, to check a rerun byte by byte.

The manifest is in ``sha256sum`` format -- one ``<64 hex digits>  <path>`` line per file, paths
relative to the trial's results folder with ``/`` separators, sorted -- so that
``cd results/<trial> && sha256sum -c MANIFEST.sha256`` checks it without this package.
:func:`write_manifest` writes it; :func:`compare_manifest` compares a folder with a manifest,
file by file (used by :mod:`pilottrial.provenance.verify`).
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from pilottrial.provenance.record import sha256_file

if TYPE_CHECKING:  # pandas is imported by compare_manifest only: the manifest job needs none of it
    import pandas as pd

__all__ = ["MANIFEST_NAME", "EXCLUDED", "manifest_entries", "write_manifest", "read_manifest",
           "compare_manifest"]

MANIFEST_NAME = "MANIFEST.sha256"
#: Paths (relative to the results folder) that are not pipeline outputs and stay out of the
#: manifest: the manifest itself, the `snakemake --report` archive, browser screenshots.
EXCLUDED = (MANIFEST_NAME, "workflow-report.zip", "screenshots/")
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def _excluded(relative: str, exclude) -> bool:
    return any(relative == e or (e.endswith("/") and relative.startswith(e)) for e in exclude)


def manifest_entries(results_dir: str | PathLike, exclude=EXCLUDED) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``results_dir`` (hidden files and
    :data:`EXCLUDED` paths left out), sorted by path."""
    root = Path(results_dir)
    entries = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts) or _excluded(relative, exclude):
            continue
        entries[relative] = sha256_file(path)
    return dict(sorted(entries.items()))


def write_manifest(results_dir: str | PathLike, exclude=EXCLUDED) -> Path:
    """Write ``<results_dir>/MANIFEST.sha256`` listing every output under ``results_dir``.

    Parameters
    ----------
    results_dir : path
        The trial's results folder, ``results/<trial>``.
    exclude : sequence of str
        Relative paths (a trailing ``/`` excludes a folder) left out; the manifest itself always is.

    Returns
    -------
    pathlib.Path
        The manifest's path. Its bytes depend only on the files' contents and names.
    """
    root = Path(results_dir)
    entries = manifest_entries(root, tuple(exclude) + (MANIFEST_NAME,))
    text = "".join(f"{digest}  {relative}\n" for relative, digest in entries.items())
    out = root / MANIFEST_NAME
    with open(out, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return out


def read_manifest(path: str | PathLike) -> dict[str, str]:
    """``{relative path: sha256}`` from a manifest file; raises ValueError on a malformed line."""
    entries = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"{path}, line {number}: not a sha256sum line: {line!r}")
        entries[match.group(2)] = match.group(1)
    return entries


def compare_manifest(manifest: dict[str, str] | str | PathLike, results_dir: str | PathLike,
                     exclude=EXCLUDED) -> pd.DataFrame:
    """Compare the files under ``results_dir`` with a manifest, file by file.

    Returns
    -------
    DataFrame
        ``path, expected, actual, status`` sorted by path; status is ``"ok"``, ``"differs"``,
        ``"missing"`` (in the manifest, not produced) or ``"unexpected"`` (produced, not in the
        manifest).
    """
    import pandas as pd

    expected = manifest if isinstance(manifest, dict) else read_manifest(manifest)
    actual = manifest_entries(results_dir, tuple(exclude) + (MANIFEST_NAME,))
    rows = []
    for path in sorted(set(expected) | set(actual)):
        want, got = expected.get(path), actual.get(path)
        status = ("missing" if got is None else "unexpected" if want is None
                  else "ok" if want == got else "differs")
        rows.append({"path": path, "expected": want or "", "actual": got or "", "status": status})
    return pd.DataFrame(rows, columns=["path", "expected", "actual", "status"])
