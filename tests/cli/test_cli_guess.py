"""`pilottrial init`'s guesses (pilottrial.cli.guess) on trial files it has never seen: every
format and layout of the demo trial, the crossover demo, and new files with other column names
and label styles (tests/cli/cli_trials.py). The expected values are the files' true columns and
visit orders, and the published total-score ranges of the scales."""

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from cli_trials import NEW_TRIALS
from conftest import REPO_ROOT

from pilottrial.cli.check import check_config
from pilottrial.cli.draft import write_draft
from pilottrial.cli.guess import guess_trial, order_visits, visit_time
from pilottrial.errors import InputError

DEMO_CSV = REPO_ROOT / "data" / "demo" / "ketamine_ptsd_demo.csv"
CROSSOVER_CSV = REPO_ROOT / "data" / "demo-crossover" / "ketamine_ptsd_crossover_demo.csv"
#: Published total-score ranges (CAPS-5: Weathers et al. 2018; PCL-5: Blevins et al. 2015;
#: MADRS: Montgomery & Asberg 1979; IES-R: Weiss & Marmar 1997).
DEMO_OUTCOMES = {"CAPS-5": ("caps5", (0, 80)), "PCL-5": ("pcl5", (0, 80)), "MADRS": ("madrs", (0, 60))}
DEMO_VISITS = ["baseline", "24h", "7d", "30d"]


@pytest.fixture(scope="module")
def demo():
    return pd.read_csv(DEMO_CSV)


def outcomes_by_name(guess):
    return {o.name: o for o in guess.outcomes}


def assert_passes_check(guess, folder):
    """The draft of ``guess`` validates and passes the pipeline's checks (pilottrial check)."""
    out = folder / "trial.yaml"
    write_draft(guess, out)
    config, table = check_config(out)
    assert table["participant"].nunique() == guess.n_participants
    return config


@pytest.mark.parametrize("suffix", ["csv", "tsv", "xlsx", "parquet", "sav", "dta", "xpt"])
def test_every_format_of_the_demo(tmp_path, demo, suffix):
    path = tmp_path / f"demo.{suffix}"
    if suffix in ("csv", "tsv"):
        demo.to_csv(path, sep="," if suffix == "csv" else "\t", index=False)
    elif suffix == "xlsx":
        demo.to_excel(path, index=False)
    elif suffix == "parquet":
        demo.to_parquet(path, index=False)
    else:
        writer = {"sav": pyreadstat.write_sav, "dta": pyreadstat.write_dta, "xpt": pyreadstat.write_xport}[suffix]
        writer(demo, str(path))
    guess = guess_trial(path)
    assert (guess.layout, guess.design) == ("long", "parallel")
    assert guess.columns == {"participant": "participant", "arm": "arm", "visit": "visit"}
    assert (guess.reference, guess.treatment) == ("midazolam", "ketamine")
    assert guess.visits == DEMO_VISITS and guess.baseline == "baseline"
    outcomes = outcomes_by_name(guess)
    for name, (column, scale) in DEMO_OUTCOMES.items():
        assert (outcomes[name].column, outcomes[name].range, outcomes[name].better) == (column, scale, "lower")
    assert outcomes["CAPS-5"].primary and sum(o.primary for o in guess.outcomes) == 1
    assert {o.column for o in guess.outcomes if o.role == "mechanism"} == {"amygdala_reactivity",
                                                                          "hippocampus_reactivity"}
    assert guess.covariates == ["age", "sex"] and guess.identifiers == []
    assert guess.n_participants == demo["participant"].nunique()
    if suffix in ("csv", "parquet"):
        config = assert_passes_check(guess, tmp_path)
        assert config["visits"]["order"] == DEMO_VISITS


def test_wide_layout_of_the_demo(tmp_path, demo):
    wide = demo.pivot(index=["participant", "arm"], columns="visit", values=["caps5", "pcl5", "madrs"])
    wide.columns = [f"{outcome}_{visit}" for outcome, visit in wide.columns]
    path = tmp_path / "wide.csv"
    wide.reset_index().to_csv(path, index=False)
    guess = guess_trial(path)
    assert guess.layout == "wide" and guess.columns == {"participant": "participant", "arm": "arm"}
    assert guess.visits == DEMO_VISITS
    for name, (column, scale) in DEMO_OUTCOMES.items():
        outcome = outcomes_by_name(guess)[name]
        assert outcome.columns == {v: f"{column}_{v}" for v in DEMO_VISITS} and outcome.range == scale
    assert_passes_check(guess, tmp_path)


def test_adam_layout_of_the_demo(tmp_path, demo):
    long = demo.melt(id_vars=["participant", "arm", "visit"], value_vars=["caps5", "pcl5", "madrs"],
                     var_name="PARAMCD", value_name="AVAL")
    adqs = pd.DataFrame({"STUDYID": "KETPTSD", "USUBJID": long["participant"], "TRT01P": long["arm"],
                         "AVISIT": long["visit"].replace({"baseline": "Baseline"}),
                         "PARAMCD": long["PARAMCD"].str.upper(), "AVAL": long["AVAL"],
                         "ABLFL": np.where(long["visit"] == "baseline", "Y", ""), "ANL01FL": "Y"})
    path = tmp_path / "adqs.xpt"
    pyreadstat.write_xport(adqs, str(path))
    guess = guess_trial(path)
    assert guess.layout == "adam"
    assert guess.columns == {"participant": "USUBJID", "arm": "TRT01P", "visit": "AVISIT"}
    assert guess.visits == ["Baseline", "24h", "7d", "30d"] and guess.baseline == "Baseline"
    assert {o.paramcd: o.range for o in guess.outcomes} == {"CAPS5": (0, 80), "PCL5": (0, 80), "MADRS": (0, 60)}
    assert guess.reference == "midazolam"
    assert_passes_check(guess, tmp_path)


def test_crossover_demo(tmp_path):
    guess = guess_trial(CROSSOVER_CSV)
    assert guess.design == "crossover"
    assert guess.columns == {"participant": "participant", "sequence": "sequence", "period": "period",
                             "treatment": "treatment"}
    assert guess.periods == ["1", "2"] and guess.timepoint == "24h"
    assert guess.sequences == {"KM": ["ketamine", "midazolam"], "MK": ["midazolam", "ketamine"]}
    (outcome,) = guess.outcomes
    assert (outcome.name, outcome.column, outcome.baseline_column, outcome.range) == ("IES-R", "ies_r_24h",
                                                                                     "ies_r_pre", (0, 88))
    copy = tmp_path / "crossover.csv"
    copy.write_bytes(CROSSOVER_CSV.read_bytes())
    config = assert_passes_check(guess_trial(copy), tmp_path)
    assert config["crossover"]["sequences"] == {"KM": ["ketamine", "midazolam"], "MK": ["midazolam", "ketamine"]}


@pytest.mark.parametrize("name", sorted(NEW_TRIALS))
def test_new_trial_files(tmp_path, name):
    path, truth = NEW_TRIALS[name](tmp_path)
    guess = guess_trial(path)
    assert guess.layout == truth["layout"]
    assert guess.header_row == truth.get("header_row", 1)
    assert guess.columns == truth["columns"]
    assert sorted(guess.arms) == sorted(truth["arms"]) and guess.reference == truth["reference"]
    assert guess.visits == truth["visits"]
    outcomes = outcomes_by_name(guess)
    assert set(outcomes) == set(truth["outcomes"])
    for outcome_name, (where, scale) in truth["outcomes"].items():
        outcome = outcomes[outcome_name]
        assert (outcome.columns if truth["layout"] == "wide" else outcome.column) == where
        assert outcome.range == scale and outcome.better == "lower"
    assert guess.identifiers == truth.get("identifiers", [])
    assert guess.missing_codes == truth.get("missing_codes", [])
    assert {o.name: o.baseline_column for o in guess.outcomes if o.baseline_column} == truth.get("baseline_columns", {})
    assert (guess.baseline is None) == ("baseline_columns" in truth)
    if "undecided" in truth:
        assert any(truth["undecided"] in item for item in guess.undecided)
    config = assert_passes_check(guess, tmp_path)
    assert config["arms"]["reference"] == truth["reference"]


def test_draft_quotes_numeric_labels(tmp_path):
    path, _ = NEW_TRIALS["sas_xpt"](tmp_path)
    out = tmp_path / "trial.yaml"
    write_draft(guess_trial(path), out)
    text = out.read_text()
    assert 'reference: "0"' in text and 'treatment: "1"' in text
    assert 'order: ["D0", "D7", "W2", "M1"]' in text
    guessed = [line for line in text.splitlines() if line.strip().startswith(("participant:", "arm:", "visit:",
                                                                              "reference:", "order:", "range:"))]
    assert guessed and all("# guessed:" in line for line in guessed)


@pytest.mark.parametrize("labels, expected", [
    (["M1", "W1", "D1", "D0"], ["D0", "D1", "W1", "M1"]),
    (["Month 1", "Week 2", "Day 1", "Baseline"], ["Baseline", "Day 1", "Week 2", "Month 1"]),
    (["30d", "7d", "24h", "baseline"], ["baseline", "24h", "7d", "30d"]),
    (["Week 4", "week 0", "Week 12", "screening"], ["screening", "week 0", "Week 4", "Week 12"]),
    (["D14", "W1", "D1"], ["D1", "W1", "D14"]),  # 14 days after 1 week: time, not the unit, decides
    (["40 min", "2 hours", "Day 1"], ["40 min", "2 hours", "Day 1"]),
    (["V10", "V2", "V1"], ["V1", "V2", "V10"]),
    (["15", "1", "8"], ["1", "8", "15"]),
    (["follow-up", "end of treatment", "Week 8", "baseline"], ["baseline", "Week 8", "follow-up", "end of treatment"]),
])
def test_visit_order(labels, expected):
    assert order_visits(labels) == expected


def test_visit_time_in_days():
    assert visit_time("Month 1")[1] == pytest.approx(365.25 / 12)
    assert visit_time("24h")[1] == pytest.approx(1.0) and visit_time("week_2_arm_1")[1] == 14


def test_unreadable_file_is_one_line(tmp_path):
    path = tmp_path / "export.sav"
    path.write_bytes(b"not an SPSS file at all")
    with pytest.raises(InputError) as info:
        guess_trial(path)
    line = info.value.one_line()
    assert "\n" not in line and "export.sav" in line and "cannot be read as spss" in line and "fix:" in line


def test_no_arm_column_is_one_line(tmp_path):
    path = tmp_path / "one_arm.csv"
    pd.DataFrame({"participant": ["a", "a", "b", "b"], "visit": ["baseline", "W4"] * 2,
                  "arm": ["drug"] * 4, "hamd": [20, 12, 22, 15]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="exactly two arms"):
        guess_trial(path)


def test_baseline_column_named_after_a_scale_is_not_an_outcome(tmp_path):
    """PHQ9_BL names a scale and is constant within participant: the baseline of PHQ9, not a second PHQ-9."""
    rng = np.random.default_rng(3)
    rows = [{"SUBJID": f"S{i:03d}", "GROUP": 1 + i % 2, "VISIT": f"Week {w}", "PHQ9_BL": base,
             "PHQ9": int(np.clip(base - w + rng.integers(-2, 3), 0, 27))}
            for i, base in enumerate(rng.integers(12, 24, 24)) for w in (1, 2, 4, 8)]
    pd.DataFrame(rows).to_csv(tmp_path / "export.csv", index=False)
    guess = guess_trial(tmp_path / "export.csv")
    assert [(o.name, o.column, o.baseline_column) for o in guess.outcomes] == [("PHQ-9", "PHQ9", "PHQ9_BL")]
    assert not any("no baseline column" in u for u in guess.undecided)
    assert_passes_check(guess, tmp_path)
