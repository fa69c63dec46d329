"""Config checks for real exports (issue 14): the baseline given as a column, the baseline x visit
interaction, and label mismatches inside the config that are about quoting."""

import copy

import pytest
from conftest import REPO_ROOT

from pilottrial.config.load import BASELINE_VISIT, baseline_from_column, load_config, quoting_hint, validate_config
from pilottrial.errors import InputError

DEMO = load_config(REPO_ROOT / "config" / "config.yaml")


def demo(**visits):
    raw = copy.deepcopy(DEMO)
    raw["visits"] = visits or raw["visits"]
    return raw


def as_column(raw):
    """The demo with each outcome's baseline as a column and visits.order post-baseline only."""
    raw["visits"] = {"order": ["24h", "7d", "30d"], "key": ["24h", "30d"]}
    for o in raw["outcomes"]:
        o["baseline_column"] = f"base_{o['column']}"
    return raw


def refused(raw):
    with pytest.raises(InputError) as info:
        validate_config(raw, source="trial.yaml")
    message = info.value.one_line()
    assert "\n" not in message and "-- fix:" in message and "trial.yaml" in message
    return message


def test_baseline_as_a_column_needs_no_baseline_visit():
    config = validate_config(as_column(demo()))
    assert baseline_from_column(config) and "baseline" not in config["visits"]
    assert config["visits"]["key"] == ["24h", "30d"]


def test_baseline_given_as_visit_and_column_is_refused():
    raw = as_column(demo())
    raw["visits"] = copy.deepcopy(DEMO["visits"])
    assert "the baseline is given twice" in refused(raw)


def test_reserved_baseline_label_in_order_is_refused():
    raw = as_column(demo())
    raw["visits"]["order"] = [BASELINE_VISIT, "24h", "7d", "30d"]
    message = refused(raw)
    assert f"visits.order lists {BASELINE_VISIT!r} although the baseline is a column" in message


def test_every_outcome_of_a_change_analysis_needs_a_baseline_column():
    raw = as_column(demo())
    del raw["outcomes"][2]["baseline_column"]
    assert "outcome(s) ['MADRS'] have no baseline_column" in refused(raw)
    raw["analysis"]["response"] = "raw"  # a raw-score analysis needs no baseline
    validate_config(raw)


def test_missing_baseline_visit_names_the_baseline_column_key():
    raw = demo()
    del raw["visits"]["baseline"]
    raw["visits"]["order"] = ["24h", "7d", "30d"]
    raw["visits"]["key"] = ["24h"]
    assert "outcomes[].baseline_column" in refused(raw)


def test_baseline_by_visit_with_a_raw_analysis_is_refused():
    raw = demo()
    raw["analysis"] = {"response": "raw", "baseline_by_visit": True}
    del raw["visits"]["baseline"]
    assert "analysis.baseline_by_visit needs a baseline" in refused(raw)


@pytest.mark.parametrize("where", ["key", "baseline", "windows", "wide"])
def test_label_mismatch_inside_the_config_says_it_is_about_quoting(where):
    """visits.order: ['01', '02', '03'] quoted, another key writes the YAML number 2."""
    raw = demo(baseline="01", order=["01", "02", "03"], key=["03"])
    if where == "key":
        raw["visits"]["key"] = [2]
    elif where == "baseline":
        raw["visits"]["baseline"] = 1
    elif where == "windows":
        raw["columns"]["day"] = "day"
        raw["visits"]["windows"] = {"01": [0, 0], 2: [1, 10], "03": [11, 40]}
    else:
        raw["data"]["layout"] = "wide"
        raw["outcomes"] = [{"name": "CAPS-5", "columns": {"01": "caps_1", 2: "caps_2", "03": "caps_3"}}]
    message = refused(raw)
    assert "labels are text" in message and "in quotes" in message and "'02'" in message


def test_yaml_octal_is_recognised_as_a_quoting_problem():
    """YAML 1.1 reads an unquoted 010 as the number 8."""
    assert "'010' (config: 8)" in quoting_hint(["010"], ["8"], "visits.order")
    assert quoting_hint(["010"], ["10"], "visits.order") is not None
    assert quoting_hint(["week 1"], ["1"], "visits.order") is None


def test_a_number_where_text_is_expected_says_to_quote_it():
    raw = demo()
    raw["outcomes"][0]["column"] = 5
    assert "write outcomes[0].column in quotes" in refused(raw)
