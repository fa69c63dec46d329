"""`pilottrial init` and `check` on trials with three or more arms (pilottrial.cli.arms): the
three-arm dose-ranging demo against its hand-written config (config/dose_ranging.yaml), four-arm
files with numeric codes (with and without SPSS value labels) and with dose levels
(tests/cli/cli_trials.py). The expected arms are the files' true arms; the participants per arm
in the summary are counted by pandas on the raw file."""

import pandas as pd
import pyreadstat
import pytest
import yaml
from cli_trials import MULTI_ARM_TRIALS
from conftest import REPO_ROOT

from pilottrial.cli.arms import guess_arms, treatment_key
from pilottrial.cli.check import check_config
from pilottrial.cli.draft import write_draft
from pilottrial.cli.guess import guess_trial
from pilottrial.cli.main import main
from pilottrial.errors import InputError

DOSE_RANGING_CSV = REPO_ROOT / "data" / "demo" / "ketamine_dose_ranging_demo.csv"
DOSE_RANGING_CONFIG = REPO_ROOT / "config" / "dose_ranging.yaml"


def raw_per_arm(path) -> dict:
    """Participants per arm, counted on the raw file (SPSS codes through their value labels)."""
    if path.suffix == ".sav":
        frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
        frame = frame.rename(columns={"group": "arm", "subject": "participant"})
        frame["arm"] = frame["arm"].map(lambda v: f"{v:g}" if isinstance(v, float) else str(v))
    else:
        frame = pd.read_csv(path)
        frame = frame.rename(columns={"Treatment group": "arm", "record_id": "participant"})
    return frame.drop_duplicates("participant")["arm"].value_counts().to_dict()


def summary_per_arm(reference, treatments, counts) -> str:
    return (f"participants: {sum(counts.values())} ({reference} (reference): {counts[reference]}, "
            + ", ".join(f"{arm} (treatment): {counts[arm]}" for arm in treatments) + ")")


def test_dose_ranging_demo_matches_its_config(tmp_path, capsys):
    truth = yaml.safe_load(DOSE_RANGING_CONFIG.read_text())
    data = tmp_path / "ketamine_dose_ranging_demo.csv"
    data.write_bytes(DOSE_RANGING_CSV.read_bytes())
    guess = guess_trial(data)
    assert (guess.layout, guess.design) == (truth["data"]["layout"], truth["trial"]["design"])
    assert guess.columns == truth["columns"]
    assert guess.reference == truth["arms"]["reference"] == "midazolam"
    assert guess.treatments == truth["arms"]["treatments"] == ["ketamine-0.2", "ketamine-0.5"]
    assert not any("reference" in item for item in guess.undecided)
    assert guess.visits == truth["visits"]["order"] and guess.baseline == truth["visits"]["baseline"]
    by_column = {o.column: o for o in guess.outcomes}
    assert set(by_column) == {o["column"] for o in truth["outcomes"]}
    for outcome in truth["outcomes"]:
        found = by_column[outcome["column"]]
        assert found.range == (tuple(outcome["range"]) if "range" in outcome else None)
        assert (found.better, found.role, found.primary) == (outcome["better"], outcome.get("role", "efficacy"),
                                                             outcome.get("primary", False))
    with pytest.raises(ValueError, match="treatments"):
        guess.treatment  # noqa: B018 -- a two-arm view of three arms is an error, as for Trial.treatment

    assert main(["init", str(data)]) == 0
    out = capsys.readouterr().out
    assert "'midazolam' (reference) vs 'ketamine-0.2', 'ketamine-0.5'" in out
    config_path = tmp_path / "trial.yaml"
    text = config_path.read_text()
    assert 'treatments: ["ketamine-0.2", "ketamine-0.5"]  # guessed: ' in text and "\n  treatment:" not in text
    config = yaml.safe_load(text)
    assert config["arms"] == truth["arms"]
    assert (config["analysis"]["comparisons"], config["analysis"]["arm_adjustment"]) == ("vs_reference", "dunnett")
    assert main(["check", str(config_path)]) == 0
    summary = capsys.readouterr().out
    counts = pd.read_csv(DOSE_RANGING_CSV).drop_duplicates("participant")["arm"].value_counts().to_dict()
    assert len(counts) == 3
    assert summary_per_arm("midazolam", ["ketamine-0.2", "ketamine-0.5"], counts) in summary


@pytest.mark.parametrize("name", sorted(MULTI_ARM_TRIALS))
def test_four_arm_files(tmp_path, capsys, name):
    path, truth = MULTI_ARM_TRIALS[name](tmp_path)
    guess = guess_trial(path)
    assert guess.layout == truth["layout"] and guess.columns == truth["columns"]
    assert guess.reference == truth["reference"] and guess.treatments == truth["treatments"]
    assert guess.arms == [truth["reference"], *truth["treatments"]]
    assert guess.visits == truth["visits"]
    assert {o.name: (o.column, o.range) for o in guess.outcomes} == truth["outcomes"]
    reference_questions = [item for item in guess.undecided if "reference" in item]
    if "undecided" in truth:
        assert len(reference_questions) == 1 and truth["undecided"] in reference_questions[0]
    else:
        assert reference_questions == []

    config_path = tmp_path / "trial.yaml"
    assert main(["init", str(path), "--out", str(config_path)]) == 0
    capsys.readouterr()
    config = yaml.safe_load(config_path.read_text())
    assert config["arms"] == {"reference": truth["reference"], "treatments": truth["treatments"]}
    assert main(["check", str(config_path)]) == 0
    summary = capsys.readouterr().out
    counts = raw_per_arm(path)
    assert counts == truth["per_arm"]
    assert summary_per_arm(truth["reference"], truth["treatments"], counts) in summary


def test_undecided_reference_is_marked_and_listed(tmp_path):
    """Three active arms, no label naming a control: the first in order is guessed, the draft
    marks it and lists the question at the top; the draft still passes check."""
    path, _ = MULTI_ARM_TRIALS["four_levels"](tmp_path)
    frame = pd.read_csv(path)
    frame = frame[frame["Treatment group"] != "placebo"]
    frame["Treatment group"] = frame["Treatment group"].map({"low": "Drug 20 mg", "medium": "Drug 40 mg",
                                                             "high": "Drug 100 mg"})
    frame.to_csv(path, index=False)
    guess = guess_trial(path)
    assert (guess.reference, guess.treatments) == ("Drug 20 mg", ["Drug 40 mg", "Drug 100 mg"])
    out = tmp_path / "trial.yaml"
    write_draft(guess, out)
    text = out.read_text()
    header = text[:text.index("trial:")]
    assert "# Not decided from the data" in header and "which arm is the reference" in header
    assert "'Drug 20 mg'" in header and "arms.treatments" in header
    assert 'reference: "Drug 20 mg"  # guessed: no label names a control' in text
    config, table = check_config(out)
    assert table["participant"].nunique() == 14 and config["arms"]["treatments"] == ["Drug 40 mg", "Drug 100 mg"]


@pytest.mark.parametrize("labels, reference, treatments, undecided", [
    (["Drug 20 mg", "PBO", "Drug 10 mg"], "PBO", ["Drug 10 mg", "Drug 20 mg"], False),
    (["CBT", "usual care", "CBT + sertraline"], "usual care", ["CBT", "CBT + sertraline"], False),
    (["coach", "Waitlist", "app"], "Waitlist", ["app", "coach"], False),
    (["sham TMS", "iTBS", "rTMS 10 Hz"], "sham TMS", ["iTBS", "rTMS 10 Hz"], False),
    (["20 mg", "0 mg", "10 mg"], "0 mg", ["10 mg", "20 mg"], False),  # a zero dose is the placebo
    (["ketamine 0.5 mg/kg", "ketamine 0.2 mg/kg", "midazolam 0.045 mg/kg"], "midazolam 0.045 mg/kg",
     ["ketamine 0.2 mg/kg", "ketamine 0.5 mg/kg"], False),
    (["3", "1", "0", "2"], "0", ["1", "2", "3"], True),  # codes: 0 usually the control, asked
    (["drug", "placebo", "waitlist"], "placebo", ["drug", "waitlist"], True),  # two controls: placebo, asked
])
def test_reference_among_k_arms(labels, reference, treatments, undecided):
    arms = guess_arms(labels)
    assert (arms.reference, arms.treatments) == (reference, treatments)
    assert bool(arms.undecided) == undecided


@pytest.mark.parametrize("labels, expected", [
    (["ketamine-0.5", "ketamine-0.2", "ketamine-1.0"], ["ketamine-0.2", "ketamine-0.5", "ketamine-1.0"]),
    (["High", "low", "Medium"], ["low", "Medium", "High"]),
    (["high dose", "very low dose", "low dose"], ["very low dose", "low dose", "high dose"]),
    (["20 mg", "5 mg", "10 mg", "100 mg"], ["5 mg", "10 mg", "20 mg", "100 mg"]),
    (["1 mg", "250 mcg", "500 ug"], ["250 mcg", "500 ug", "1 mg"]),  # micrograms below a milligram
    (["12", "3", "10"], ["3", "10", "12"]),
])
def test_treatments_in_natural_order(labels, expected):
    assert sorted(labels, key=treatment_key) == expected


def test_coded_arms_without_doses_keep_their_code_order():
    arms = guess_arms(["Placebo", "Sertraline", "CBT"], coded=True)
    assert (arms.reference, arms.treatments) == ("Placebo", ["Sertraline", "CBT"])
    assert guess_arms(["Placebo", "Sertraline", "CBT"]).treatments == ["CBT", "Sertraline"]


def test_crossover_still_needs_two_arms(tmp_path):
    frame = pd.DataFrame({"participant": ["a", "a", "b", "b", "c", "c"], "sequence": ["AB", "AB", "BA", "BA", "CA", "CA"],
                          "period": ["1", "2"] * 3, "treatment": ["A", "B", "B", "A", "C", "A"],
                          "hamd_pre": [20, 18, 22, 19, 21, 20], "hamd_post": [15, 14, 16, 15, 17, 16]})
    path = tmp_path / "xo.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="crossover compares exactly two arms"):
        guess_trial(path)
