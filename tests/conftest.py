"""Shared fixtures: the demo trial (config, Trial, analysis table, primary contrasts), the
read-only reference folder (SAS / R outputs) and the FEV benchmark data.

The test tree mirrors the package (tests/config, tests/data, tests/models, tests/analyses,
tests/planning, tests/report, tests/demo, tests/provenance) plus tests/workflow for Snakemake
runs. There are no ``__init__.py`` files: pytest puts this folder and each test file's folder on
``sys.path``, so helpers here are imported by name (``from conftest import REPO_ROOT``,
``from project import copy_project``) and every test file's name must be unique in the tree.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"

# Scripts run by hand, not modules to import (``--doctest-modules`` would import them).
collect_ignore = ["corpus/make_corpus.py", "make_environment_yml.py"]


# ---- the demo trial, loaded and fitted once per session ----------------------------------------
# Session-scoped and shared by every test module: copy before changing (``copy.deepcopy(config)``,
# ``analysis.copy()``). Each fixture checks at the end of the session that no test changed it.


def _absolute_paths(config: dict) -> dict:
    """The config's file paths made absolute, so tests may change the working directory."""
    from pilottrial.config.load import PATH_KEYS

    for keys in PATH_KEYS:
        block = config
        for key in keys:
            block = block.get(key) if isinstance(block, dict) else None
        if isinstance(block, dict) and isinstance(block.get("path"), str):
            block["path"] = str(Path(block["path"]).resolve())
    return config


@pytest.fixture(scope="session")
def demo_config() -> dict:
    """The demo trial's validated config, ``load_config(REPO_ROOT / "config" / "config.yaml")``,
    with absolute file paths. Shared: ``copy.deepcopy`` it before changing it."""
    from pilottrial.config import load_config

    config = _absolute_paths(load_config(REPO_ROOT / "config" / "config.yaml"))
    snapshot = copy.deepcopy(config)
    yield config
    assert config == snapshot, "a test changed the shared demo_config: copy.deepcopy it first"


@pytest.fixture(scope="session")
def demo_trial(demo_config):
    """The demo trial as a typed :class:`pilottrial.config.Trial`."""
    from pilottrial.config import Trial

    return Trial.from_config(demo_config)


@pytest.fixture(scope="session")
def demo_analysis(demo_config) -> pd.DataFrame:
    """The demo's analysis table, ``pilottrial.data.load_trial(demo_config)``. Shared: ``.copy()``
    it before changing it."""
    from pilottrial.data import load_trial

    analysis = load_trial(demo_config)
    snapshot = analysis.copy(deep=True)
    yield analysis
    pd.testing.assert_frame_equal(analysis, snapshot, obj="the shared demo_analysis (copy it before changing it)")


@pytest.fixture(scope="session")
def demo_primary(demo_analysis, demo_config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(contrasts, models)`` of the demo's primary analysis,
    ``pilottrial.models.primary.primary_contrasts(demo_analysis, demo_config)``. Shared: copy
    before changing."""
    from pilottrial.models.primary import primary_contrasts

    contrasts, models = primary_contrasts(demo_analysis, demo_config)
    snapshots = contrasts.copy(deep=True), models.copy(deep=True)
    yield contrasts, models
    pd.testing.assert_frame_equal(contrasts, snapshots[0], obj="the shared demo contrasts (copy before changing)")
    pd.testing.assert_frame_equal(models, snapshots[1], obj="the shared demo models (copy before changing)")


# ---- reference material -------------------------------------------------------------------------


def _unavailable(reason: str):
    """Reference material missing: a failure under CI (CI=true), a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the reference material is required in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference folder: $PILOT_REFERENCE_DIR, else <repo>/../shared/reference."""
    env = os.environ.get("PILOT_REFERENCE_DIR")
    path = Path(env) if env else DEFAULT_REFERENCE_DIR
    if not path.is_dir():
        source = "PILOT_REFERENCE_DIR" if env else "the default location <repo>/../shared/reference"
        _unavailable(f"reference folder {path} (from {source}) not found; set PILOT_REFERENCE_DIR "
                     f"to the folder holding fev/ and bcva/ to run the validation tests")
    return path


@pytest.fixture(scope="session")
def fev_data(reference_dir) -> pd.DataFrame:
    """fev_data.csv (200 subjects x 4 visits) with the categorical columns ordered so that the
    first category is the reference level: ARMCD [PBO, TRT], AVISIT [VIS1..VIS4],
    RACE [Asian, Black or African American, White], SEX [Male, Female].

    Session-scoped and shared: copy it before modifying it.
    """
    path = reference_dir / "fev" / "fev_data.csv"
    if not path.is_file():
        _unavailable(f"{path} not found in the reference folder")
    data = pd.read_csv(path)
    categories = {
        "ARMCD": ["PBO", "TRT"],
        "AVISIT": ["VIS1", "VIS2", "VIS3", "VIS4"],
        "RACE": ["Asian", "Black or African American", "White"],
        "SEX": ["Male", "Female"],
    }
    for column, levels in categories.items():
        unexpected = set(data[column].dropna()) - set(levels)
        assert not unexpected, f"{column} has levels {unexpected} outside {levels}"
        data[column] = pd.Categorical(data[column], categories=levels)
    return data


def require_r(*packages: str) -> str:
    """Path of Rscript with these R packages; skip when missing, fail under CI=true."""
    import shutil
    import subprocess

    rscript = shutil.which("Rscript")
    missing = list(packages) if rscript is None else [
        p for p in packages
        if subprocess.run([rscript, "-e", f"suppressMessages(library({p}))"], capture_output=True).returncode != 0
    ]
    if rscript is None or missing:
        _unavailable(f"Rscript{' with ' + ', '.join(missing) if rscript else ''} not available "
                     f"(Debian: r-base-core and r-cran-<package>)")
    return rscript


def load_benchmark(name: str):
    """A script of ``benchmarks/`` (e.g. ``"bench_lmm"``) imported as a module, for its tests."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
