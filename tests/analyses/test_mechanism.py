"""Mechanism correlations: Pearson against pingouin and R, Spearman against scipy and the
Bonett-Wright formula, and the demo's table against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT
from scipy import stats

from pilottrial.analyses.mechanism import (
    MECHANISM_COLUMNS,
    correlation_interval,
    correlation_row,
    mechanism_table,
)
from pilottrial.config.load import validate_config
from pilottrial.data import load_trial

MECHANISM = [
    {"name": "Amygdala reactivity", "column": "amygdala_reactivity", "range": [None, None], "role": "mechanism"},
    {"name": "Hippocampus reactivity", "column": "hippocampus_reactivity", "range": [None, None],
     "role": "mechanism"},
]


def demo_config(mechanism=True) -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["data"]["path"] = str((REPO_ROOT / "config" / config["data"]["path"]).resolve())
    config.pop("harms", None)
    config.pop("feasibility", None)
    columns = {o.get("column") for o in config["outcomes"]}
    if mechanism:
        config["outcomes"] += [o for o in MECHANISM if o["column"] not in columns]
    else:
        config["outcomes"] = [o for o in config["outcomes"] if o.get("role") != "mechanism"]
    return validate_config(config, base_dir=REPO_ROOT / "config")


@pytest.fixture(scope="module")
def config() -> dict:
    return demo_config()


@pytest.fixture(scope="module")
def table(config, demo_analysis) -> pd.DataFrame:
    """The demo's table (this module's config names the demo's data and outcomes)."""
    return mechanism_table(demo_analysis, config)


def _sample(n=20, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, 0.6 * x + rng.normal(size=n)


def test_pearson_matches_pingouin():
    pingouin = pytest.importorskip("pingouin")
    x, y = _sample()
    row = correlation_row(x, y)
    ref = pingouin.corr(x, y, method="pearson").iloc[0]
    assert row["pearson_r"] == pytest.approx(ref["r"], rel=1e-12)
    assert row["pearson_p"] == pytest.approx(ref["p_val"], rel=1e-9)
    # pingouin rounds the interval to 2 decimals
    assert (row["pearson_ci_lower"], row["pearson_ci_upper"]) == pytest.approx(tuple(ref["CI95"]), abs=0.005 + 1e-12)


def test_pearson_interval_matches_r_cor_test():
    # R 4.2.2: cor.test(c(1, 2, 3, 4, 5, 6, 7, 8), c(2, 1, 4, 3, 7, 8, 5, 9))
    row = correlation_row([1, 2, 3, 4, 5, 6, 7, 8], [2, 1, 4, 3, 7, 8, 5, 9])
    assert row["pearson_r"] == pytest.approx(0.85467071799291, rel=1e-12)
    assert (row["pearson_ci_lower"], row["pearson_ci_upper"]) == pytest.approx(
        (0.37712837721748, 0.97321309750175), rel=1e-10)
    assert row["pearson_p"] == pytest.approx(0.00686151529136, rel=1e-9)


def test_spearman_matches_scipy_and_bonett_wright():
    x, y = _sample(n=15, seed=9)
    row = correlation_row(x, y, alpha=0.1)
    ref = stats.spearmanr(x, y)
    assert row["spearman_rho"] == pytest.approx(ref.statistic, rel=1e-12)
    assert row["spearman_p"] == pytest.approx(ref.pvalue, rel=1e-12)
    rho, n = ref.statistic, 15
    half = stats.norm.ppf(0.95) * np.sqrt((1 + rho**2 / 2) / (n - 3))
    expected = (np.tanh(np.arctanh(rho) - half), np.tanh(np.arctanh(rho) + half))
    assert (row["spearman_ci_lower"], row["spearman_ci_upper"]) == pytest.approx(expected, rel=1e-12)
    # the Bonett-Wright interval is wider than the Pearson-variance one
    assert correlation_interval(rho, n, 0.1, "spearman")[0] < correlation_interval(rho, n, 0.1, "pearson")[0]


def test_small_and_degenerate_samples():
    assert np.isnan(correlation_row([1, 2], [2, 1])["pearson_r"])
    three = correlation_row([1, 2, 3], [1, 3, 2])
    assert np.isfinite(three["pearson_r"]) and np.isnan(three["pearson_ci_lower"])
    assert np.isnan(correlation_row([1, 1, 1, 1], [1, 2, 3, 4])["spearman_rho"])
    perfect = correlation_row([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert (perfect["pearson_ci_lower"], perfect["pearson_ci_upper"]) == (1.0, 1.0)
    with_nan = correlation_row([1, 2, np.nan, 4, 5, 6], [2, 1, 3, np.nan, 5, 7])
    assert with_nan["n"] == 4


def test_demo_table_matches_pandas(table):
    assert list(table.columns) == MECHANISM_COLUMNS
    assert table[["mechanism_outcome", "visit", "arm"]].values.tolist() == [
        [m, "30d", a] for m in ["Amygdala reactivity", "Hippocampus reactivity"]
        for a in ["midazolam", "ketamine", "all"]
    ]
    assert (table["primary_outcome"] == "CAPS-5").all()
    raw = pd.read_csv(REPO_ROOT / "data" / "demo" / "ketamine_ptsd_demo.csv")
    wide = raw.pivot(index=["participant", "arm"], columns="visit")
    for name, column in [("Amygdala reactivity", "amygdala_reactivity"),
                         ("Hippocampus reactivity", "hippocampus_reactivity")]:
        change = pd.DataFrame({
            "m": wide[(column, "30d")] - wide[(column, "baseline")],
            "y": wide[("caps5", "30d")] - wide[("caps5", "baseline")],
        }).dropna().reset_index()
        for arm in ["midazolam", "ketamine", "all"]:
            subset = change if arm == "all" else change[change["arm"] == arm]
            row = table[(table["mechanism_outcome"] == name) & (table["arm"] == arm)].iloc[0]
            assert row["n"] == len(subset)
            assert row["pearson_r"] == pytest.approx(subset["m"].corr(subset["y"]), rel=1e-10)
            assert row["spearman_rho"] == pytest.approx(subset["m"].corr(subset["y"], method="spearman"), rel=1e-10)
    assert table.loc[table["arm"] == "all", "n"].tolist() == [24, 24]
    assert not table.isna().any().any()


def test_no_mechanism_outcome_gives_an_empty_table():
    config = demo_config(mechanism=False)
    table = mechanism_table(load_trial(config), config)
    assert table.empty and list(table.columns) == MECHANISM_COLUMNS
