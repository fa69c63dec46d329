"""Bad input never gets through, end to end: the pipeline on a few malformed trials of
tests/corpus/ (regenerate with tests/corpus/make_corpus.py) stops with a non-zero exit and one
line naming the file, the place and the fix, prints no traceback, writes nothing under
results/<trial>/ and leaves the input file as it was (checked by hash).

Every case of the corpus goes through the same checks, without Snakemake, in
tests/provenance/test_corpus_checks.py; the cases here show that the workflow runs those checks
before any job and turns their error into one line: a missing column, a config typo, a latin-1
file, an identifier column and a spreadsheet whose header is not on row 1.
"""

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from project import copy_project, snakemake

pytestmark = pytest.mark.e2e
CORPUS = REPO_ROOT / "tests" / "corpus"
END_TO_END = ["config_typo", "excel_header_offset", "identifier_by_name", "latin1_encoding", "missing_column"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    workdir = copy_project(tmp_path_factory.mktemp("corpus"))
    shutil.copytree(CORPUS, workdir / "tests" / "corpus", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return workdir


def digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("case", END_TO_END)
def test_malformed_trial_is_refused_with_one_line(project, case):
    folder = project / "tests" / "corpus" / case
    expect = [line for line in (folder / "expect.txt").read_text().splitlines() if line]
    before = digests(folder)
    try:
        trial = yaml.safe_load((folder / "config.yaml").read_text())["trial"]["name"]
    except (yaml.YAMLError, TypeError, KeyError):
        trial = "broken"
    run = snakemake(project, "--configfile", f"tests/corpus/{case}/config.yaml", check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-2000:]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output[-2000:]
    for fragment in expect:
        assert fragment in errors[0], (fragment, errors[0])
    assert "-- fix:" in errors[0]
    assert "Traceback" not in output
    assert not (project / "results" / trial).exists()
    assert digests(folder) == before
