"""Tests for the synthetic demo trial generator (pilottrial.demo.parallel and its parameters)."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT

from pilottrial.demo.parallel import (
    main,
    simulate_adverse_events,
    simulate_demo,
    simulate_demo_trial,
    simulate_dissociation,
    simulate_screening_log,
    write_demo,
    write_demo_trial,
)
from pilottrial.demo.parameters import (
    AE_PROBABILITY,
    AE_TERMS,
    CADSS_MEAN,
    DEFAULT_SEED,
    DEMO_FILES,
    MECHANISM_CAPS5_CORR,
    MECHANISM_OUTCOMES,
    OUTCOME_RANGES,
    OUTCOMES,
    REFERENCE_CHANGE,
    TRUE_EFFECT,
    VISITS,
    true_effects,
    true_mechanism_effects,
)

DEMO_DIR = REPO_ROOT / "data/demo"
DEMO_CSV = DEMO_DIR / "ketamine_ptsd_demo.csv"
DEMO_README = DEMO_DIR / "README.md"
CLINICAL_COLUMNS = ["participant", "arm", "visit", "age", "sex", "caps5", "pcl5", "madrs"]
COLUMNS = CLINICAL_COLUMNS + list(MECHANISM_OUTCOMES)
#: sha256 of the first eight columns of ketamine_ptsd_demo.csv as first released
#: (before the mechanism columns were added): they must never change.
CLINICAL_SHA256 = "9a3d265435821d43c1ecfe8245f3f4a88b5553bf9a52177c7447759a3728dcee"
POST = list(VISITS[1:])
OTHER_SEEDS = [1, 2, 12345]


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    """The committed demo file, read with scores as nullable integers."""
    return pd.read_csv(
        DEMO_CSV,
        dtype={o: "Int64" for o in OUTCOMES}
        | {"age": "int64"}
        | {m: "float64" for m in MECHANISM_OUTCOMES},
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
        for field in row[3:4] + row[5:8]:
            assert field == "" or re.fullmatch(r"\d+", field), row
        for field in row[8:]:
            assert field == "" or re.fullmatch(r"-?\d+\.\d{3}", field), row
            assert field != "-0.000", row


def test_clinical_columns_unchanged_since_first_release() -> None:
    """Adding the mechanism columns left the original eight columns byte-identical."""
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    clinical = "".join(",".join(line.split(",")[:8]).rstrip("\n") + "\n" for line in lines)
    assert hashlib.sha256(clinical.encode()).hexdigest() == CLINICAL_SHA256


# (b) design ------------------------------------------------------------------


def test_columns_and_dtypes() -> None:
    df = simulate_demo_trial()
    assert list(df.columns) == COLUMNS
    assert df["age"].dtype == np.int64
    for o in OUTCOMES:
        assert df[o].dtype == "Int64"
    for m in MECHANISM_OUTCOMES:
        assert df[m].dtype == np.float64


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


# (h) the companion files: all four regenerated byte for byte ----------------


@pytest.mark.parametrize("key", sorted(DEMO_FILES))
def test_cli_folder_regenerates_all_four_files(tmp_path: Path, key: str) -> None:
    main([str(tmp_path / "demo") + "/"])
    assert (tmp_path / "demo" / DEMO_FILES[key]).read_bytes() == (
        DEMO_DIR / DEMO_FILES[key]
    ).read_bytes()


def test_write_demo_matches_single_functions(tmp_path: Path) -> None:
    written = write_demo(tmp_path)
    assert set(written) == set(DEMO_FILES)
    tables = simulate_demo()
    pd.testing.assert_frame_equal(tables["trial"], simulate_demo_trial())
    pd.testing.assert_frame_equal(tables["adverse_events"], simulate_adverse_events())
    pd.testing.assert_frame_equal(tables["dissociation"], simulate_dissociation())
    pd.testing.assert_frame_equal(tables["screening_log"], simulate_screening_log())


def test_mechanism_columns_follow_the_visit_schedule_and_dropout() -> None:
    """For several seeds: imaging at baseline and 30d only, and missing at 30d exactly
    when the clinical scores are (dropout)."""
    for seed in [DEFAULT_SEED] + OTHER_SEEDS:
        df = simulate_demo_trial(seed)
        scored = df["caps5"].notna()
        at = df["visit"].isin(["baseline", "30d"])
        for m in MECHANISM_OUTCOMES:
            assert df.loc[~at, m].isna().all()
            assert df.loc[at, m].notna().eq(scored[at]).all()


# (i) mechanism (fMRI) columns ------------------------------------------------


def test_mechanism_only_at_baseline_and_30d(shipped: pd.DataFrame) -> None:
    base = shipped[shipped["visit"] == "baseline"]
    assert base[list(MECHANISM_OUTCOMES)].notna().all().all()
    mid = shipped[shipped["visit"].isin(["24h", "7d"])]
    assert mid[list(MECHANISM_OUTCOMES)].isna().all().all()
    d30 = shipped[shipped["visit"] == "30d"]
    dropped = d30["caps5"].isna()
    assert dropped.sum() == 3
    assert d30.loc[dropped, list(MECHANISM_OUTCOMES)].isna().all().all()
    assert d30.loc[~dropped, list(MECHANISM_OUTCOMES)].notna().all().all()


def _mechanism_changes(df: pd.DataFrame) -> pd.DataFrame:
    wide = df.pivot(index=["participant", "arm"], columns="visit")
    out = pd.DataFrame(
        {
            m: wide[(m, "30d")].astype(float) - wide[(m, "baseline")].astype(float)
            for m in (*MECHANISM_OUTCOMES, "caps5")
        }
    )
    return out.dropna().reset_index()


def test_large_sample_recovers_mechanism_truth(large: pd.DataFrame) -> None:
    change = _mechanism_changes(large)
    truth = true_mechanism_effects().set_index("outcome")
    base = large[large["visit"] == "baseline"]
    for m in MECHANISM_OUTCOMES:
        assert base[m].mean() == pytest.approx(truth.loc[m, "baseline_mean"], abs=0.01)
        assert base[m].std() == pytest.approx(truth.loc[m, "baseline_sd"], abs=0.01)
        by_arm = change.groupby("arm")[m]
        assert by_arm.mean()["midazolam"] == pytest.approx(truth.loc[m, "change_midazolam"], abs=0.01)
        assert by_arm.mean()["ketamine"] == pytest.approx(truth.loc[m, "change_ketamine"], abs=0.01)
        assert by_arm.std().to_numpy() == pytest.approx([truth.loc[m, "change_sd"]] * 2, abs=0.01)
        for arm, g in change.groupby("arm"):
            r = np.corrcoef(g[m], g["caps5"])[0, 1]
            # the CAPS-5 change is rounded and clipped: r is a little attenuated
            assert r == pytest.approx(MECHANISM_CAPS5_CORR[m], abs=0.03), (m, arm)


def test_ketamine_reduces_amygdala_reactivity_more() -> None:
    truth = true_mechanism_effects().set_index("outcome")
    assert truth.loc["amygdala_reactivity", "change_ketamine"] < truth.loc[
        "amygdala_reactivity", "change_midazolam"
    ] < 0


# (j) adverse events ----------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_ae() -> pd.DataFrame:
    return pd.read_csv(DEMO_DIR / DEMO_FILES["adverse_events"], dtype=str)


def test_adverse_events_layout(shipped: pd.DataFrame, shipped_ae: pd.DataFrame) -> None:
    assert list(shipped_ae.columns) == ["participant", "term"]
    assert set(shipped_ae["term"]) <= set(AE_TERMS)
    assert set(shipped_ae["participant"]) <= set(shipped["participant"])
    assert not shipped_ae.duplicated().any()
    key = shipped_ae["participant"] + "|" + shipped_ae["term"].map(AE_TERMS.index).astype(str)
    assert key.tolist() == sorted(key)
    # some participants have none
    assert shipped_ae["participant"].nunique() < shipped["participant"].nunique()


def test_adverse_events_direction_in_the_shipped_sample(
    shipped: pd.DataFrame, shipped_ae: pd.DataFrame
) -> None:
    arm = shipped.drop_duplicates("participant").set_index("participant")["arm"]
    counts = pd.crosstab(shipped_ae["term"], shipped_ae["participant"].map(arm))
    assert counts.loc["dissociation", "ketamine"] > counts.loc["dissociation", "midazolam"]
    assert counts.loc["drowsiness", "midazolam"] > counts.loc["drowsiness", "ketamine"]


def test_large_sample_adverse_event_rates() -> None:
    n = 5000
    events = simulate_adverse_events(DEFAULT_SEED, n_per_arm=n)
    trial = simulate_demo_trial(DEFAULT_SEED, n_per_arm=n)
    arm = trial.drop_duplicates("participant").set_index("participant")["arm"]
    share = pd.crosstab(events["term"], events["participant"].map(arm)) / n
    for a, probs in AE_PROBABILITY.items():
        for t, p in probs.items():
            assert share.loc[t, a] == pytest.approx(p, abs=0.025), (a, t)


# (k) dissociation ------------------------------------------------------------


def test_dissociation_layout(shipped: pd.DataFrame) -> None:
    cadss = pd.read_csv(DEMO_DIR / DEMO_FILES["dissociation"])
    assert list(cadss.columns) == ["participant", "cadss"]
    assert cadss["participant"].tolist() == sorted(shipped["participant"].unique())
    assert cadss["cadss"].dtype == np.int64
    assert cadss["cadss"].between(0, 92).all()
    arm = shipped.drop_duplicates("participant").set_index("participant")["arm"]
    means = cadss.groupby(cadss["participant"].map(arm))["cadss"].mean()
    assert means["ketamine"] > 3 * means["midazolam"]


def test_large_sample_dissociation_means() -> None:
    n = 10_000
    cadss = simulate_dissociation(DEFAULT_SEED, n_per_arm=n)
    trial = simulate_demo_trial(DEFAULT_SEED, n_per_arm=n)
    arm = trial.drop_duplicates("participant").set_index("participant")["arm"]
    by_arm = cadss.groupby(cadss["participant"].map(arm))["cadss"]
    for a, mu in CADSS_MEAN.items():
        assert by_arm.mean()[a] == pytest.approx(mu, rel=0.05)
        assert by_arm.median()[a] < by_arm.mean()[a]  # right-skewed


# (l) screening log -----------------------------------------------------------


def test_screening_log_counts_and_coding(shipped: pd.DataFrame) -> None:
    log = pd.read_csv(DEMO_DIR / DEMO_FILES["screening_log"], dtype=str, keep_default_na=False)
    assert list(log.columns) == ["screening_id", "month", "eligible", "randomized", "reason"]
    assert len(log) == 58
    assert (log["eligible"] == "yes").sum() == 34
    assert (log["randomized"] == "yes").sum() == 27 == shipped["participant"].nunique()
    assert set(log["eligible"]) == set(log["randomized"]) == {"yes", "no"}
    assert not ((log["randomized"] == "yes") & (log["eligible"] == "no")).any()
    assert ((log["reason"] == "") == (log["randomized"] == "yes")).all()
    assert all(re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m) for m in log["month"])
    assert log["month"].nunique() == 14
    assert (log["month"].min(), log["month"].max()) == ("2023-03", "2024-04")
    assert all(re.fullmatch(r"SC-[0-9A-Z]{4}", c) for c in log["screening_id"])
    assert log["screening_id"].is_unique
    assert list(zip(log["month"], log["screening_id"])) == sorted(zip(log["month"], log["screening_id"]))


def test_screening_log_scales_with_trial_size() -> None:
    log = simulate_screening_log(DEFAULT_SEED, n_per_arm=50)
    assert (log["randomized"] == "yes").sum() == 100
    assert (log["eligible"] == "yes").sum() == round(100 * 34 / 27)
    assert len(log) == round(100 * 58 / 27)


def test_readme_documents_the_mechanism_truth() -> None:
    """The mechanism TRUE-values table in data/demo/README.md matches the module."""
    text = DEMO_README.read_text(encoding="utf-8")
    pattern = re.compile(
        r"^\|\s*`(\w+_reactivity)`" + r"\s*\|\s*(-?[\d.]+)" * 7 + r"\s*\|\s*$", re.MULTILINE
    )
    documented = {m: tuple(map(float, vals)) for m, *vals in pattern.findall(text)}
    cols = ["baseline_mean", "baseline_sd", "change_midazolam", "change_ketamine", "effect",
            "change_sd", "corr_caps5_change"]
    expected = {
        r["outcome"]: tuple(float(r[c]) for c in cols)
        for _, r in true_mechanism_effects().iterrows()
    }
    assert set(documented) == set(expected)
    for m in expected:
        assert documented[m] == pytest.approx(expected[m]), m
