"""Checks of the trial data against the config: each problem gives one line naming the file,
the line(s), the column and the fix; the analysis table is derived as documented."""

import copy

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT

from pilottrial.config.load import load_config
from pilottrial.data import check_trial_data, load_trial, read_trial_data
from pilottrial.errors import InputError

CONFIG = load_config(REPO_ROOT / "config" / "config.yaml")
DEMO_CSV = REPO_ROOT / CONFIG["data"]["path"]


def demo_config(path):
    config = copy.deepcopy(CONFIG)
    config["data"]["path"] = str(path)
    return config


def write(tmp_path, frame, name="trial.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def raw():
    return pd.read_csv(DEMO_CSV, dtype=str, keep_default_na=False)


def check(tmp_path, frame):
    config = demo_config(write(tmp_path, frame))
    with pytest.raises(InputError) as info:
        check_trial_data(read_trial_data(config), config)
    message = info.value.one_line()
    assert "\n" not in message and message.startswith("error: ") and "-- fix:" in message
    assert str(config["data"]["path"]) in message
    return message


def test_missing_column_suggests_a_close_name(tmp_path):
    message = check(tmp_path, raw().rename(columns={"caps5": "caps_5"}))
    assert "['caps5']" in message and "'caps_5'" in message


def test_unknown_arm_label_names_the_line(tmp_path):
    frame = raw()
    frame.loc[5, "arm"] = "placebo"
    message = check(tmp_path, frame)
    assert "unknown arm label(s) ['placebo']" in message and "line 7" in message and "'arm'" in message


def test_unknown_visit_label(tmp_path):
    frame = raw()
    frame.loc[2, "visit"] = "day7"
    assert "unknown visit label(s) ['day7']" in check(tmp_path, frame)


def test_duplicate_participant_visit(tmp_path):
    frame = pd.concat([raw(), raw().iloc[[3]]], ignore_index=True)
    message = check(tmp_path, frame)
    assert "more than one row" in message and "lines 5, 110" in message


def test_non_numeric_score(tmp_path):
    frame = raw()
    frame.loc[0, "pcl5"] = "n/a?"
    message = check(tmp_path, frame)
    assert "'n/a?' is not a number" in message and "line 2" in message and "'pcl5'" in message


def test_out_of_range_score(tmp_path):
    frame = raw()
    frame.loc[9, "madrs"] = "61"
    message = check(tmp_path, frame)
    assert "MADRS score 61 is outside its range [0, 60]" in message and "line 11" in message


def test_missing_baseline_row(tmp_path):
    frame = raw()
    frame = frame[~((frame.participant == frame.participant.iloc[0]) & (frame.visit == "baseline"))]
    assert "have no baseline row" in check(tmp_path, frame)


def test_missing_baseline_score(tmp_path):
    frame = raw()
    frame.loc[0, "caps5"] = ""
    message = check(tmp_path, frame)
    assert "missing baseline CAPS-5 score" in message and "line 2" in message


def test_one_arm_only(tmp_path):
    frame = raw()
    frame = frame[frame.arm == "ketamine"]
    assert "no participant in arm 'midazolam'" in check(tmp_path, frame)


def test_participant_in_two_arms(tmp_path):
    frame = raw()
    frame.loc[1, "arm"] = "midazolam" if frame.loc[1, "arm"] == "ketamine" else "ketamine"
    assert "more than one arm" in check(tmp_path, frame)


def test_key_visit_without_data(tmp_path):
    frame = raw()
    frame.loc[frame.visit == "30d", [o["column"] for o in CONFIG["outcomes"]]] = ""
    assert "key visit '30d' has no scores" in check(tmp_path, frame)


def test_semicolon_delimited_file(tmp_path):
    path = tmp_path / "semi.csv"
    raw().to_csv(path, index=False, sep=";")
    config = demo_config(path)
    with pytest.raises(InputError, match="not comma-separated"):
        check_trial_data(read_trial_data(config), config)


def test_empty_and_absent_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_trial_data(demo_config(empty))
    with pytest.raises(InputError, match="not found"):
        read_trial_data(demo_config(tmp_path / "nope.csv"))


def test_latin1_file_is_refused_with_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    text = DEMO_CSV.read_text().replace("PT-", "PT\u00e9", 1)
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError, match=r"line 2: data file is not UTF-8"):
        read_trial_data(demo_config(path))


def test_utf8_bom_is_accepted(tmp_path, demo_analysis):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + DEMO_CSV.read_bytes())
    assert len(load_trial(demo_config(path))) == len(demo_analysis)


def test_input_file_is_not_modified(tmp_path):
    path = write(tmp_path, raw())
    before = path.read_bytes()
    load_trial(demo_config(path))
    assert path.read_bytes() == before


def test_analysis_table_derives_change_from_baseline(demo_analysis):
    table = demo_analysis
    frame = pd.read_csv(DEMO_CSV)
    n = frame.participant.nunique()
    assert len(table) == n * 4 * len(CONFIG["outcomes"])
    assert list(table.columns) == ["participant", "arm", "visit", "outcome", "baseline", "score", "change"]
    caps = table[table.outcome == "CAPS-5"].set_index(["participant", "visit"])
    for row in frame.sample(10, random_state=1).itertuples():
        base = frame[(frame.participant == row.participant) & (frame.visit == "baseline")].caps5.iloc[0]
        got = caps.loc[(row.participant, row.visit)]
        assert got.baseline == base
        if np.isnan(row.caps5):
            assert np.isnan(got.change)
        else:
            assert got.change == row.caps5 - base
