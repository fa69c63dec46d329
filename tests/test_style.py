"""Habits that keep the code base clean (issue 10), checked with the tests so that CI fails when
one slips:

* ``ruff check src scripts tests benchmarks`` (the rules of pyproject.toml) and
  ``snakemake --lint`` are clean;
* the library stays split by concept: no module of src/pilottrial over 700 lines, at most 8
  modules at the top of the package and at least 4 subpackages;
* no code outside src/pilottrial/models/mmrm reads a private attribute of an MMRM fit
  (``fit._frame``): the fit's owner offers a public method instead.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from project import SNAKEMAKE, copy_project, project_env

PACKAGE = REPO_ROOT / "src" / "pilottrial"
MMRM_PACKAGE = PACKAGE / "models" / "mmrm"
MAX_MODULE_LINES = 700
MAX_TOP_LEVEL_MODULES = 8
MIN_SUBPACKAGES = 4


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.is_file():
        pytest.fail(f"{ruff} not found: ruff is pinned in requirements.lock (make install)", pytrace=False)
    run = subprocess.run([str(ruff), "check", "--no-cache", "src", "scripts", "tests", "benchmarks"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_snakemake_lint_is_clean(tmp_path):
    """``snakemake --lint`` in a copy of the project (a lint run parses the workflow, which checks
    the demo's inputs and writes .snakemake/ in its working directory)."""
    project = copy_project(tmp_path / "project")
    run = subprocess.run([SNAKEMAKE, "--lint"], cwd=project, env=project_env(project), capture_output=True,
                         text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "Lints for" not in output, output[-4000:]


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_of_the_library_exceeds_700_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules(PACKAGE)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules by concept (at most {MAX_MODULE_LINES} lines): {long}"


def test_the_package_has_few_top_level_modules_and_several_subpackages():
    top_level = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    subpackages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level
    assert len(subpackages) >= MIN_SUBPACKAGES, subpackages


def _mmrm_private_names() -> set[str]:
    """The private fields and methods of MMRMFit (``_frame``, ``_spec``, ``_kr``, ...)."""
    from pilottrial.models.mmrm import MMRMFit

    names = {f.name for f in dataclasses.fields(MMRMFit)} | set(vars(MMRMFit))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_fit_reads(line: str, private: set[str]) -> list[str]:
    """``owner._name`` in ``line`` where ``_name`` is a private name of MMRMFit, or where the
    owner's name has ``fit`` in it (``fit._x``, ``fits[0]._x``); ``self`` and ``cls`` excepted;
    also ``getattr(owner, "_name")``."""
    found = []
    for match in re.finditer(r"\.(_(?!_)\w+)\b", line):
        owner = re.search(r"(\w+)(?:\[[^\]]*\]|\(\))*$", line[:match.start()])
        owner = owner.group(1) if owner else ""
        if owner not in ("self", "cls") and (match.group(1) in private or "fit" in owner.lower()):
            found.append(f"{owner}.{match.group(1)}")
    for match in re.finditer(r"\bgetattr\(\s*[\w.]+\s*,\s*[\"'](_(?!_)\w+)[\"']", line):
        if match.group(1) in private:
            found.append(match.group(0))
    return found


def test_the_private_access_check_finds_what_it_should():
    private = _mmrm_private_names()
    assert {"_frame", "_spec", "_kr"} <= private
    for line in ("frame = fit._frame", "x = model._spec.n", "results[0]._factors", 'getattr(fit, "_kr")',
                 "fits[0]._anything", "best_fit()._grid_rows(specs)"):
        assert private_fit_reads(line, private), line
    for line in ("self._frame = frame", "cls._grid", "row._asdict()", "fit.model_frame", "fit.residuals()",
                 "import fontTools.ttLib.tables._h_e_a_d as head", "from x import _frame"):
        assert not private_fit_reads(line, private), line


def test_no_module_outside_the_mmrm_package_reads_private_attributes_of_a_fit():
    private = _mmrm_private_names()
    files = [p for p in _modules(PACKAGE) if MMRM_PACKAGE not in p.parents]
    files += _modules(REPO_ROOT / "scripts") + _modules(REPO_ROOT / "benchmarks") + _modules(REPO_ROOT / "workflow")
    files += sorted((REPO_ROOT / "workflow").rglob("*.smk")) + [REPO_ROOT / "Snakefile"]
    found = [f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
             for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if private_fit_reads(line, private)]
    assert not found, "use (or add) a public method of MMRMFit instead of its private fields:\n" + "\n".join(found)
