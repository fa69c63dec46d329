"""Tests for the synthetic demo trial generator (pilottrial.simulate)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pilottrial.simulate import (
    DEFAULT_SEED,
    OUTCOME_RANGES,
    OUTCOMES,
    REFERENCE_CHANGE,
    TRUE_EFFECT,
    VISITS,
    main,
    simulate_demo_trial,
    true_effects,
    write_demo_trial,
)

DEMO_DIR = Path(__file__).parents[1] / "data/demo"
DEMO_CSV = DEMO_DIR / "ketamine_ptsd_demo.csv"
DEMO_README = DEMO_DIR / "README.md"
COLUMNS = ["participant", "arm", "visit", "age", "sex", "caps5", "pcl5", "madrs"]
POST = list(VISITS[1:])
OTHER_SEEDS = [1, 2, 12345]


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    """The committed demo file, read with scores as nullable integers."""
    return pd.read_csv(
        DEMO_CSV, dtype={o: "Int64" for o in OUTCOMES} | {"age": "int64"}
    )


def _frames(shipped: pd.DataFrame) -> list[pd.DataFrame]:
    """The committed file plus freshly simulated trials for other seeds."""
    return [shipped] + [simulate_demo_trial(s) for s in OTHER_SEEDS]


def _mean_change(df: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Observed mean change from baseline, arm x post-baseline visit."""
    wide = df.pivot(index=["participant", "arm"], columns="visit", values=outcome)
    wide = wide.astype("float64")
    change = wide[POST].sub(wide["baseline"], axis=0)
    return change.groupby(level="arm").mean()


# (a) reproducibility ---------------------------------------------------------


def test_regenerated_file_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv"
    write_demo_trial(out)
    assert out.read_bytes() == DEMO_CSV.read_bytes()


def test_cli_regenerates_identical_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "demo.csv"
    main([str(out)])
    assert out.read_bytes() == DEMO_CSV.read_bytes()


def test_same_seed_same_frame() -> None:
    pd.testing.assert_frame_equal(simulate_demo_trial(7), simulate_demo_trial(7))


def test_file_format_is_plain_integers_and_empty_fields() -> None:
    raw = DEMO_CSV.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    with DEMO_CSV.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == COLUMNS
    for row in rows[1:]:
        assert len(row) == len(COLUMNS)
        for field in row[3:4] + row[5:]:
            assert field == "" or re.fullmatch(r"\d+", field), row


# (b) design ------------------------------------------------------------------


def test_columns_and_dtypes() -> None:
    df = simulate_demo_trial()
    assert list(df.columns) == COLUMNS
    assert df["age"].dtype == np.int64
    for o in OUTCOMES:
        assert df[o].dtype == "Int64"


def test_participants_arms_and_visits(shipped: pd.DataFrame) -> None:
    for df in _frames(shipped):
        assert list(df.columns) == COLUMNS
        assert len(df) == 27 * len(VISITS)
        per = df.groupby("participant")
        assert per.ngroups == 27
        assert (per.size() == len(VISITS)).all()
        assert all(list(g["visit"]) == list(VISITS) for _, g in per)
        arms = per["arm"].agg(lambda s: s.unique().tolist())
        assert arms.map(len).eq(1).all()
        assert arms.str[0].value_counts().to_dict() == {"ketamine": 14, "midazolam": 13}


def test_rows_sorted_and_codes_opaque(shipped: pd.DataFrame) -> None:
    for df in _frames(shipped):
        codes = df["participant"].drop_duplicates().tolist()
        assert codes == sorted(codes)
        assert df["participant"].tolist() == [c for c in codes for _ in VISITS]
        assert all(re.fullmatch(r"PT-[0-9A-Z]{4}", c) for c in codes)
        assert len(set(codes)) == len(codes)


def test_demographics_constant_and_in_range(shipped: pd.DataFrame) -> None:
    for df in _frames(shipped):
        per = df.groupby("participant")
        assert per["age"].nunique().eq(1).all()
        assert per["sex"].nunique().eq(1).all()
        assert df["age"].between(18, 70).all()
        assert set(df["sex"]) <= {"F", "M"}


# (c) scores are integers in range -------------------------------------------


def test_scores_integer_and_in_range(shipped: pd.DataFrame) -> None:
    for df in _frames(shipped) + [simulate_demo_trial(3, n_per_arm=2000)]:
        for o in OUTCOMES:
            lo, hi = OUTCOME_RANGES[o]
            x = df[o].dropna().astype("float64").to_numpy()
            assert x.size > 0
            assert np.all(x == np.round(x)), o
            assert x.min() >= lo and x.max() <= hi, o


# (d) complete baseline -------------------------------------------------------


def test_baseline_complete(shipped: pd.DataFrame) -> None:
    for df in _frames(shipped):
        base = df[df["visit"] == "baseline"]
        assert len(base) == 27
        assert base[list(OUTCOMES)].notna().all().all()


# (e) monotone dropout --------------------------------------------------------


def test_dropout_monotone(shipped: pd.DataFrame) -> None:
    for df in _frames(shipped):
        miss = df[list(OUTCOMES)].isna()
        # A row has all three scores or none.
        assert (miss.all(axis=1) | ~miss.any(axis=1)).all()
        row_missing = miss.all(axis=1)
        n_drop = 0
        for _, m in row_missing.groupby(df["participant"], sort=False):
            m = m.to_numpy()
            assert not m[0]
            # Once missing, always missing: the mask is non-decreasing.
            assert np.all(np.diff(m.astype(int)) >= 0)
            n_drop += bool(m.any())
        assert 1 <= n_drop <= 5


def test_shipped_dropout_count(shipped: pd.DataFrame) -> None:
    dropped = shipped.loc[shipped["caps5"].isna(), "participant"].nunique()
    assert dropped == 3


# (f) seed matters ------------------------------------------------------------


def test_different_seed_gives_different_data() -> None:
    a = simulate_demo_trial(DEFAULT_SEED)
    b = simulate_demo_trial(DEFAULT_SEED + 1)
    assert set(a["participant"]) != set(b["participant"])
    assert not a[list(OUTCOMES)].equals(b[list(OUTCOMES)])


# (g) documented truth is recovered in a large sample ------------------------


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return simulate_demo_trial(DEFAULT_SEED, n_per_arm=10_000)


def test_large_sample_arm_sizes(large: pd.DataFrame) -> None:
    per_arm = large.groupby("arm")["participant"].nunique().to_dict()
    assert per_arm == {"ketamine": 10_000, "midazolam": 10_000}


@pytest.mark.parametrize("visit", ["24h", "30d"])
def test_large_sample_recovers_caps5_effect(large: pd.DataFrame, visit: str) -> None:
    m = _mean_change(large, "caps5")
    observed = m.loc["ketamine", visit] - m.loc["midazolam", visit]
    assert observed == pytest.approx(TRUE_EFFECT["caps5"][visit], abs=0.6)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_large_sample_recovers_all_documented_changes(
    large: pd.DataFrame, outcome: str
) -> None:
    m = _mean_change(large, outcome)
    for v in POST:
        diff = m.loc["ketamine", v] - m.loc["midazolam", v]
        assert diff == pytest.approx(TRUE_EFFECT[outcome][v], abs=0.6), v
        assert m.loc["midazolam", v] == pytest.approx(
            REFERENCE_CHANGE[outcome][v], abs=0.6
        ), v


def test_readme_documents_the_true_effects() -> None:
    """The TRUE-effects table in data/demo/README.md matches the module."""
    names = {"CAPS-5": "caps5", "PCL-5": "pcl5", "MADRS": "madrs"}
    text = DEMO_README.read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and str(DEFAULT_SEED) in text
    pattern = re.compile(
        r"^\|\s*(CAPS-5|PCL-5|MADRS)\s*\|\s*(24h|7d|30d)\s*\|"
        r"\s*(-?[\d.]+)\s*\|\s*(-?[\d.]+)\s*\|\s*(-?[\d.]+)\s*\|\s*$",
        re.MULTILINE,
    )
    documented = {
        (names[o], v): tuple(map(float, vals))
        for o, v, *vals in pattern.findall(text)
    }
    expected = {
        (r.outcome, r.visit): (r.change_midazolam, r.change_ketamine, r.effect)
        for r in true_effects().itertuples()
    }
    assert documented == expected
