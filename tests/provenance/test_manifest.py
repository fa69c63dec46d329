"""The manifest of a trial's outputs (pilottrial.provenance.manifest) in sha256sum format, and
verify (pilottrial.provenance.verify): a rerun from scratch compared with the manifest."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pilottrial.provenance import manifest, verify

TRIAL = "ketamine-ptsd-demo"


def test_manifest_lists_every_output_sorted_in_sha256sum_format(tmp_path):
    root = tmp_path / "results" / "trial"
    (root / "tables").mkdir(parents=True)
    (root / "figures").mkdir()
    (root / "screenshots").mkdir()
    (root / "tables" / "b.csv").write_text("b\n")
    (root / "tables" / "a.csv").write_text("a\n")
    (root / "figures" / "f.png").write_bytes(b"\x89PNG")
    (root / "report.html").write_text("<html></html>\n")
    (root / "screenshots" / "s.png").write_bytes(b"x")
    (root / "workflow-report.zip").write_bytes(b"zip")
    path = manifest.write_manifest(root)
    lines = path.read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["figures/f.png", "report.html", "tables/a.csv",
                                                          "tables/b.csv"]
    assert all(re.fullmatch(r"[0-9a-f]{64}  \S+", line) for line in lines)
    first = path.read_bytes()
    assert manifest.write_manifest(root).read_bytes() == first  # the manifest never lists itself
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], cwd=root)
        assert check.returncode == 0
    (root / "tables" / "a.csv").write_text("changed\n")
    (root / "tables" / "b.csv").unlink()
    (root / "tables" / "c.csv").write_text("new\n")
    status = manifest.compare_manifest(path, root).set_index("path")["status"].to_dict()
    assert status == {"figures/f.png": "ok", "report.html": "ok", "tables/a.csv": "differs",
                      "tables/b.csv": "missing", "tables/c.csv": "unexpected"}


@pytest.mark.e2e
def test_verify_reruns_from_scratch_and_compares_every_output(tmp_path, capsys):
    """Two clean runs of the pipeline give byte-identical outputs: the first writes the manifest,
    verify reruns in another temporary copy and finds every file equal; a changed output fails."""
    project = verify.copy_pipeline(REPO_ROOT, tmp_path / "project")
    snakemake = str(Path(sys.executable).parent / "snakemake")
    env = dict(os.environ, PYTHONPATH=str(project / "src"))
    run = subprocess.run([snakemake, "--cores", "2"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    results = project / "results" / TRIAL
    if not (results / manifest.MANIFEST_NAME).is_file():  # until the workflow writes it itself
        manifest.write_manifest(results)
    table = verify.verify(project, cores="2")
    assert len(table) >= 20 and set(table["status"]) == {"ok"}, table[table.status != "ok"]
    # a manifest whose contrasts.csv differs from what the pipeline makes (as after an edit of
    # the output, or a change in the code that the manifest predates)
    path = results / manifest.MANIFEST_NAME
    path.write_text(re.sub(r"^[0-9a-f]{64}(?=  tables/contrasts\.csv$)", "0" * 64, path.read_text(),
                           flags=re.M))
    assert verify.main(["--project", str(project), "--cores", "2"]) == 1
    out = capsys.readouterr().out
    assert f"DIFFERS    results/{TRIAL}/tables/contrasts.csv" in out
    assert re.search(r"\d+ of \d+ files match the manifest; 1 do not", out)
