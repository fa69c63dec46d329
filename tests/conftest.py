"""Shared fixtures: the read-only reference folder (SAS / R outputs) and the FEV benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


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
