"""Bad input never gets through: every malformed trial of tests/corpus/ (regenerate with
tests/corpus/make_corpus.py) fails the checks the workflow runs before any job -- the config is
loaded and validated (:func:`pilottrial.config.load_config`), then the data and the files the
config names are read and checked (:func:`pilottrial.provenance.input_check.run_input_checks`) --
with one :class:`~pilottrial.errors.InputError` whose one-line message names a file of the case,
holds every fragment of the case's expect.txt and the fix, while nothing is written and the
input files keep their bytes.

A few cases also run through Snakemake in tests/workflow/test_corpus.py. Every case of the corpus
is caught by these two functions: none needs Snakemake itself (a --configfile that is not valid
YAML would, and is left out of the corpus; see make_corpus.py).
"""

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pilottrial.config import load_config
from pilottrial.errors import InputError
from pilottrial.provenance.input_check import run_input_checks

CORPUS = REPO_ROOT / "tests" / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


def tree(folder: Path) -> dict:
    """Every file under ``folder`` (relative path -> SHA-256 of its bytes)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES)
def test_malformed_trial_is_refused_with_one_line(case, tmp_path, monkeypatch):
    folder = tmp_path / case  # a copy: a check that wrote anything would not write into the repository
    shutil.copytree(CORPUS / case, folder)
    expect = [line for line in (folder / "expect.txt").read_text().splitlines() if line]
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    before = tree(tmp_path)
    with pytest.raises(InputError) as info:
        run_input_checks(load_config(folder / "config.yaml"))
    message = info.value.one_line()
    assert "\n" not in message and message.startswith("error: ")
    for fragment in expect:
        assert fragment in message, (fragment, message)
    assert "-- fix:" in message
    assert str(folder) in message  # the file at fault: the case's config or data file
    assert tree(tmp_path) == before  # nothing written (not even in the working directory), inputs unchanged
