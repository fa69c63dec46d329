"""Inputs are checked before any job runs, once per content (config, files, library)."""

import copy
import shutil

import pytest
import yaml
from conftest import REPO_ROOT

from pilottrial.config.load import validate_config
from pilottrial.errors import InputError
from pilottrial.provenance.input_check import check_trial_inputs, input_digest


@pytest.fixture()
def trial(tmp_path):
    folder = tmp_path / "trial"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "data" / "demo" / "ketamine_ptsd_demo.csv", folder / "data.csv")
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    for key in ("harms", "feasibility", "power"):
        config.pop(key)
    config["data"]["path"] = "data.csv"
    return validate_config(config, base_dir=folder), folder / "data.csv"


def test_a_passed_check_is_remembered_and_not_repeated(trial, tmp_path):
    config, _ = trial
    cache = tmp_path / "cache"
    assert check_trial_inputs(config, cache_dir=cache) is True
    assert check_trial_inputs(config, cache_dir=cache) is False
    assert len(list(cache.iterdir())) == 1


def test_changed_data_are_checked_again_and_bad_data_still_stop(trial, tmp_path):
    config, data = trial
    cache = tmp_path / "cache"
    check_trial_inputs(config, cache_dir=cache)
    before = input_digest(config)
    lines = data.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("caps5")] = "999"  # out of the range [0, 80]
    data.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    assert input_digest(config) != before
    with pytest.raises(InputError) as info:
        check_trial_inputs(config, cache_dir=cache)
    assert "caps5" in info.value.one_line()
    assert len(list(cache.iterdir())) == 1  # the failed check is not remembered


def test_a_config_change_changes_the_digest(trial):
    config, _ = trial
    other = copy.deepcopy(config)
    other["analysis"]["alpha"] = 0.1
    assert input_digest(other) != input_digest(config)
