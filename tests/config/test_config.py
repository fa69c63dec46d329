"""The config: schema validation with defaults, and one-line errors naming key and fix."""

import copy

import pytest
import yaml
from conftest import REPO_ROOT

from pilottrial.config.load import load_config, validate_config
from pilottrial.errors import InputError

DEMO = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())


def test_demo_config_is_valid_and_defaults_are_filled():
    minimal = copy.deepcopy(DEMO)
    del minimal["analysis"]
    del minimal["outcomes"][1]["range"]
    config = validate_config(minimal, source="demo.yaml")
    expected = {"alpha": 0.05, "df_method": "satterthwaite", "covariance": "us",
                "fallback": ["toeph", "ar1", "cs"], "responder_improvement": 0.3, "multiplicity": "holm",
                "randomization_draws": 10000, "sceptical_prior_sd": None}
    assert {k: config["analysis"][k] for k in expected} == expected
    assert config["outcomes"][1]["better"] == "lower"
    assert config["outcomes"][1]["primary"] is False
    assert minimal is not config and "analysis" not in minimal  # input not modified


def _error(mutate) -> str:
    config = copy.deepcopy(DEMO)
    mutate(config)
    with pytest.raises(InputError) as info:
        validate_config(config, source="trial.yaml")
    message = info.value.one_line()
    assert "\n" not in message and message.startswith("error: trial.yaml")
    return message


def test_typo_in_a_key_suggests_the_right_one():
    message = _error(lambda c: c["analysis"].update(df_methd="satterthwaite"))
    assert "df_methd" in message and "did you mean 'df_method'" in message


def test_unknown_df_method_lists_the_choices():
    message = _error(lambda c: c["analysis"].update(df_method="z"))
    assert "analysis.df_method" in message and "kenward-roger" in message


def test_reference_arm_equal_to_treatment_arm():
    assert "both 'midazolam'" in _error(lambda c: c["arms"].update(treatment="midazolam"))


def test_baseline_must_come_first_in_visit_order():
    assert "first entry" in _error(lambda c: c["visits"].update(order=["24h", "baseline", "7d", "30d"]))


def test_key_visit_must_be_a_post_baseline_visit():
    assert "90d" in _error(lambda c: c["visits"].update(key=["24h", "90d"]))


def test_two_primary_outcomes_are_refused():
    assert "2 outcomes are marked primary" in _error(lambda c: c["outcomes"][1].update(primary=True))


def test_range_must_be_min_then_max():
    assert "min >= max" in _error(lambda c: c["outcomes"][0].update(range=[80, 0]))


def test_missing_required_key():
    assert "columns" in _error(lambda c: c.pop("columns"))


def test_load_config_reports_yaml_syntax_errors_with_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("trial:\n  name: x\n data: [\n")
    with pytest.raises(InputError) as info:
        load_config(path)
    assert str(path) in info.value.one_line() and "line" in info.value.one_line()


def _trial_folder(folder, data_path):
    config = copy.deepcopy(DEMO)
    for key in ("harms", "feasibility", "power"):
        config.pop(key, None)
    config["data"]["path"] = data_path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trial.yaml").write_text(yaml.safe_dump(config))
    return folder / "trial.yaml"


def test_data_path_is_relative_to_the_config_file_wherever_it_runs(tmp_path, monkeypatch):
    config_file = _trial_folder(tmp_path / "my-trial", "data.csv")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load_config(config_file)
    assert config["data"]["path"] == str(tmp_path / "my-trial" / "data.csv")  # outside the cwd: absolute
    monkeypatch.chdir(tmp_path)
    assert load_config(config_file)["data"]["path"] == "my-trial/data.csv"  # inside the cwd: relative to it


def test_absolute_data_path_is_kept(tmp_path, monkeypatch):
    target = tmp_path / "exports" / "trial.sav"
    config_file = _trial_folder(tmp_path / "my-trial", str(target))
    monkeypatch.chdir(tmp_path / "my-trial")
    assert load_config(config_file)["data"]["path"] == str(target)


def test_typed_trial_replaces_config_lookups(demo_trial):
    trial = demo_trial
    assert trial.arms == ("midazolam", "ketamine")
    assert trial.visit_order == ("baseline", "24h", "7d", "30d") and trial.post_baseline == ("24h", "7d", "30d")
    assert trial.key_visits == ("24h", "30d") and trial.alpha == 0.05
    assert trial.primary.name == "CAPS-5" and trial.primary.mcid == 10
    assert [o.name for o in trial.efficacy_outcomes] == ["CAPS-5", "PCL-5", "MADRS"]
    assert [o.name for o in trial.mechanism_outcomes] == ["Amygdala reactivity", "Hippocampus reactivity"]
    assert trial.data_path.as_posix() == "data/demo/ketamine_ptsd_demo.csv" or trial.data_path.is_absolute()
