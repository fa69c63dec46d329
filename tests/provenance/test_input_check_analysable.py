"""The checks run when the workflow starts refuse data the primary analysis cannot use (issue 14,
item 2): one line, the data untouched, nothing remembered as passed."""

import shutil

import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT

from pilottrial.config.load import validate_config
from pilottrial.errors import InputError
from pilottrial.provenance.input_check import check_trial_inputs


def test_primary_outcome_without_follow_up_in_one_arm_stops_the_run(tmp_path):
    folder = tmp_path / "trial"
    folder.mkdir()
    demo = pd.read_csv(REPO_ROOT / "data" / "demo" / "ketamine_ptsd_demo.csv", dtype=str, keep_default_na=False)
    demo.loc[(demo["arm"] == "ketamine") & (demo["visit"] != "baseline"), "caps5"] = ""
    demo.to_csv(folder / "data.csv", index=False)
    before = (folder / "data.csv").read_bytes()
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    for key in ("harms", "feasibility", "power"):
        config.pop(key)
    config["data"]["path"] = "data.csv"
    config = validate_config(config, base_dir=folder)
    cache = tmp_path / "cache"
    with pytest.raises(InputError) as info:
        check_trial_inputs(config, cache_dir=cache)
    assert "the primary outcome CAPS-5 has no post-baseline score in arm 'ketamine'" in info.value.one_line()
    assert (folder / "data.csv").read_bytes() == before and not cache.exists()
    shutil.rmtree(folder)
