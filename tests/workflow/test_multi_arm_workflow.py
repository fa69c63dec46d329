"""Trials with three or more arms run by config alone, end to end, to report.html and report.pdf:
the three-arm dose-ranging demo (config/dose_ranging.yaml) and a four-arm trial written the way a
real export is (numeric arm codes, numeric visit days), all pairs compared with Holm's adjustment
and power planned for one comparison."""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from project import copy_project, snakemake

from pilottrial.config import Trial
from pilottrial.config.load import load_config
from pilottrial.data.table import read_table
from pilottrial.demo.dose_ranging import simulate_dose_ranging
from pilottrial.registry import HARMS_TABLES, PILOT_TABLES

pytestmark = pytest.mark.e2e

#: Tables with one row per arm (no comparison column) or with their own comparison column.
BY_ARM = {"descriptives", "feasibility", "progression", "missing_data", "mechanism", "estimands"}


@pytest.fixture(scope="module")
def three_arms(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("three_arms"))
    snakemake(project, "--configfile", "config/dose_ranging.yaml")
    return project, load_config(project / "config" / "dose_ranging.yaml")


def test_three_arm_demo_reaches_the_report_with_every_comparison(three_arms):
    project, config = three_arms
    trial = Trial.from_config(config)
    results = project / "results" / trial.name
    assert (results / "report.pdf").read_bytes()[:5] == b"%PDF-"
    html = (results / "report.html").read_text(encoding="utf-8")
    for arm in trial.arms:
        assert arm in html
    contrasts = read_table(results / "tables" / "contrasts.csv")
    assert list(contrasts.columns[-4:]) == ["treatment", "ci_lower_adjusted", "ci_upper_adjusted",
                                            "p_value_adjusted"]
    assert list(dict.fromkeys(contrasts["treatment"])) == [c.name for c in trial.comparisons]
    primary = contrasts[(contrasts["outcome"] == trial.primary.name) & (contrasts["model"] == "mmrm")]
    assert len(primary) == len(trial.comparisons) * len(trial.post_baseline)
    assert primary[["estimate", "ci_lower_adjusted", "ci_upper_adjusted"]].notna().all().all()
    # Dunnett's simultaneous intervals are wider than the unadjusted ones
    assert ((primary["ci_upper_adjusted"] - primary["ci_lower_adjusted"])
            > (primary["ci_upper"] - primary["ci_lower"])).all()
    for name in (*PILOT_TABLES, *HARMS_TABLES):
        table = read_table(results / "tables" / f"{name}.csv")
        assert len(table), name
        if name not in BY_ARM:
            assert set(table["treatment"]) == {c.name for c in trial.comparisons}, name
    descriptives = read_table(results / "tables" / "descriptives.csv")
    assert set(descriptives["arm"]) == set(trial.arms)


def _four_arm_export(folder: Path) -> Path:
    """Four arms coded 0-3 (0 = control), visits as study days 0/1/7/30, one row per participant
    and visit: the dose-ranging model with half of the 0.5 mg/kg arm made a fourth arm."""
    trial = simulate_dose_ranging(seed=11, n_per_arm=10)["trial"]
    ids = sorted(trial.loc[trial["arm"] == "ketamine-0.5", "participant"].unique())
    trial.loc[trial["participant"].isin(ids[::2]), "arm"] = "esketamine"
    trial["arm"] = trial["arm"].map({"midazolam": 0, "ketamine-0.2": 1, "ketamine-0.5": 2, "esketamine": 3})
    trial["visit"] = trial["visit"].map({"baseline": 0, "24h": 1, "7d": 7, "30d": 30})
    path = folder / "export.csv"
    trial.rename(columns={"participant": "subject_id", "arm": "group", "visit": "day"}).to_csv(path, index=False)
    return path


def test_four_arm_trial_by_config_alone(tmp_path):
    project = copy_project(tmp_path / "project")
    _four_arm_export(tmp_path)
    config = {
        "trial": {"name": "four-arms", "title": "Four arms coded 0-3"},
        "data": {"path": str(tmp_path / "export.csv"), "layout": "long"},
        "columns": {"participant": "subject_id", "arm": "group", "visit": "day"},
        "arms": {"reference": 0, "treatments": [1, 2, 3]},  # numbers in YAML, labels in the data
        "visits": {"baseline": 0, "order": [0, 1, 7, 30], "key": [1, 30]},
        "outcomes": [{"name": "CAPS-5", "column": "caps5", "range": [0, 80], "better": "lower", "primary": True,
                      "mcid": 10},
                     {"name": "MADRS", "column": "madrs", "range": [0, 60], "better": "lower"}],
        "analysis": {"comparisons": "all_pairs", "arm_adjustment": "holm"},
        "power": {"enabled": True, "comparison": "2", "n_per_arm": [20, 40], "n_sims": 40, "shards": 1},
    }
    path = tmp_path / "four.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    snakemake(project, "--configfile", str(path))
    results = project / "results" / "four-arms"
    assert (results / "report.pdf").read_bytes()[:5] == b"%PDF-"
    contrasts = read_table(results / "tables" / "contrasts.csv")
    names = list(dict.fromkeys(contrasts["treatment"]))
    assert names == ["1", "2", "3", "2 vs 1", "3 vs 1", "3 vs 2"]
    mmrm = contrasts[contrasts["model"] == "mmrm"]
    assert len(mmrm) == 2 * 3 * 6  # outcomes x post-baseline visits x comparisons
    # Holm across the six comparisons at each outcome x visit: adjusted p >= unadjusted p
    assert (mmrm["p_value_adjusted"] >= mmrm["p_value"] - 1e-12).all()
    one = mmrm[(mmrm["outcome"] == "CAPS-5") & (mmrm["visit"] == "30")]
    smallest = one.loc[one["p_value"].idxmin()]
    assert smallest["p_value_adjusted"] == pytest.approx(min(1.0, 6 * smallest["p_value"]), rel=1e-9)
    html = (results / "report.html").read_text(encoding="utf-8")
    assert "3 vs 2" in html
    curve = pd.read_csv(results / "power" / "power_curve.csv")
    assert len(curve) and curve["power"].between(0, 1).all()
