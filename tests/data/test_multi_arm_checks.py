"""The data checks of a trial with three arms name every arm: an unknown arm label, and an arm
without a primary score at a key visit, stop with one line before any job runs."""

import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT

from pilottrial.config import load_config
from pilottrial.errors import InputError
from pilottrial.provenance.input_check import run_input_checks


def _trial(tmp_path, change):
    data = pd.read_csv(REPO_ROOT / "data" / "demo" / "ketamine_dose_ranging_demo.csv", dtype={"arm": str})
    change(data)
    data.to_csv(tmp_path / "trial.csv", index=False)
    config = yaml.safe_load((REPO_ROOT / "config" / "dose_ranging.yaml").read_text(encoding="utf-8"))
    config["data"]["path"] = "trial.csv"
    for section in ("harms", "feasibility"):
        config.pop(section, None)
    (tmp_path / "trial.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_config(tmp_path / "trial.yaml")


def test_unknown_arm_label_lists_the_three_arms(tmp_path):
    def relabel(data):
        data.loc[data.index[:4], "arm"] = "ketamine-0.3"

    config = _trial(tmp_path, relabel)
    with pytest.raises(InputError) as error:
        run_input_checks(config)
    text = str(error.value)
    assert "unknown arm label(s) ['ketamine-0.3']" in text
    assert "'midazolam', 'ketamine-0.2', 'ketamine-0.5'" in text


def test_a_treatment_arm_without_scores_at_a_key_visit_is_refused(tmp_path):
    def drop(data):
        gone = (data["arm"] == "ketamine-0.2") & (data["visit"] == "30d")
        data.loc[gone, ["caps5", "pcl5", "madrs"]] = None

    with pytest.raises(InputError) as error:
        run_input_checks(_trial(tmp_path, drop))
    assert "key visit '30d'" in str(error.value) and "'ketamine-0.2'" in str(error.value)
