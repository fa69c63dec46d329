"""Inputs are checked before any job runs, once per content (config, files, library)."""

import copy
import shutil

import pytest
import yaml
from conftest import REPO_ROOT

from pilottrial.config.load import validate_config
from pilottrial.data import load_trial
from pilottrial.errors import InputError
from pilottrial.provenance.input_check import (
    check_trial_inputs,
    checked_analysis_table,
    input_digest,
    write_analysis_table,
)


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
    assert sorted(p.suffix for p in cache.iterdir()) == ["", ".csv"]  # the marker and the analysis table


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
    assert len([p for p in cache.iterdir() if not p.suffix]) == 1  # the failed check is not remembered
    assert checked_analysis_table(config, cache_dir=cache) is None  # nor is its table


def test_a_config_change_changes_the_digest(trial):
    config, _ = trial
    other = copy.deepcopy(config)
    other["analysis"]["alpha"] = 0.1
    assert input_digest(other) != input_digest(config)


def test_the_checked_analysis_table_is_the_ingest_table(trial, tmp_path):
    config, _ = trial
    cache = tmp_path / "cache"
    assert checked_analysis_table(config, cache_dir=cache) is None  # nothing checked yet
    check_trial_inputs(config, cache_dir=cache)
    kept = checked_analysis_table(config, cache_dir=cache)
    write_analysis_table(load_trial(config), tmp_path / "ingest.csv")
    assert kept.read_bytes() == (tmp_path / "ingest.csv").read_bytes()
    other = copy.deepcopy(config)
    other["analysis"]["alpha"] = 0.1
    assert checked_analysis_table(other, cache_dir=cache) is None  # another config: another digest
