"""The report of any valid trial (issue 14, item 7): it renders for 10 to 5,000 participants, 1 to
12 post-baseline visits, 1 to 6 outcomes and any labels; rows marked not estimable read
"not estimable (reason)"; sentences read right when optional keys are absent and with one item;
only a trial whose config says so is called a pilot; Table 1 shows baseline characteristics only.

The trials are synthetic (tests/report/report_trials.py): the pipeline's table shapes with seeded
random numbers, so no Snakemake run is needed."""

from __future__ import annotations

import html as htmllib
import re

import numpy as np
import pandas as pd
import pytest
from report_trials import NOT_ESTIMABLE, make_trial

from pilottrial.report.document import render_report
from pilottrial.report.figures.baseline_table import baseline_characteristics, table_one
from pilottrial.report.format import not_estimable_reason, plural, visit_label
from pilottrial.report.sections import build
from pilottrial.report.sections.build import SECTION_FAILED, build_document
from pilottrial.report.sections.context import Context

#: Trials of every shape the report must fit.
SHAPES = {
    "10 participants, 1 visit, 1 outcome": dict(n_per_arm=5, visits=1, outcomes=1),
    "no MCID, no remission, no phase": dict(n_per_arm=8, visits=1, outcomes=1, mcid=False, remission=False,
                                            phase=None),
    "arm codes 0/1, study-day visits": dict(n_per_arm=30, visits=3, outcomes=2, arms=("0", "1"),
                                            numeric_visits=True),
    "12 visits, 6 outcomes": dict(n_per_arm=6, visits=12, outcomes=6, mechanism=1),
    "1,000 participants": dict(n_per_arm=500, visits=4, outcomes=2, phase=None),
    "5,000 participants": dict(n_per_arm=2500, visits=4, outcomes=1, phase=None),
    "not estimable everywhere": dict(n_per_arm=20, visits=3, outcomes=3, not_estimable=("all",)),
    "optional tables missing": dict(n_per_arm=20, visits=2, outcomes=2, drop_tables=(
        "sensitivity", "multiple_imputation", "tipping_point", "posterior", "responders", "effect_sizes",
        "feasibility", "table_one", "models", "multiplicity", "missing_data", "estimands", "mechanism")),
    "baseline as a column": dict(n_per_arm=20, visits=3, outcomes=1, baseline_column=True),
    "raw scores": dict(n_per_arm=20, visits=4, outcomes=1, response="raw", drop_tables=(
        "multiplicity", "effect_sizes", "responders", "posterior", "sensitivity", "missing_data",
        "multiple_imputation", "tipping_point", "feasibility", "mechanism", "estimands", "table_one")),
    "wide layout": dict(n_per_arm=20, visits=3, outcomes=2, layout_wide=True),
    "long labels": dict(n_per_arm=10, visits=["baseline visit before randomisation", "week 12 (end of treatment)",
                                              "month 6 follow-up"],
                        outcomes=["Hamilton Depression Rating Scale, 17 items", "Clinical Global Impression"],
                        arms=("treatment as usual with waiting list",
                              "internet-delivered cognitive behavioural therapy")),
}

#: Nothing a reader sees may look like this: a missing number shown raw, a dangling unit, a wrong plural.
BAD_TEXT = [
    r"\bnan\b", r"\bNaN\b", r"\bNone\b", r"<NA>", r"\binf\b",
    r"—\s*points", r"\(\s*—\s*points\)",
    r"(?<!arm )(?<![\w.])1 (outcomes|visits|key visits|analyses|comparisons|criteria|imputations|participants)\b",
]


def visible_text(document: str) -> str:
    """What a reader sees: no style sheet, no image payloads, no tags, entities decoded."""
    text = re.sub(r"<style>.*?</style>", " ", document, flags=re.S)
    text = re.sub(r'src="data:[^"]*"', 'src=""', text)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(htmllib.unescape(text).split())


@pytest.fixture(scope="module", params=list(SHAPES), ids=list(SHAPES))
def shaped(request):
    trial = make_trial(**SHAPES[request.param])
    return request.param, trial, render_report(trial.config, trial.tables, {}, {})


def test_every_shape_renders_every_section(shaped):
    name, _, document = shaped
    assert SECTION_FAILED not in document, name
    for section in ("summary", "design", "methods", "flow", "baseline", "outcomes", "limitations", "all-contrasts"):
        assert f'<section id="{section}"' in document


def test_no_raw_missing_values_dangling_units_or_wrong_plurals(shaped):
    name, _, document = shaped
    text = visible_text(document)
    found = [m.group(0) for pattern in BAD_TEXT for m in re.finditer(pattern, text)]
    assert not found, (name, found[:5])


def test_plural_helper():
    assert plural(1, "outcome") == "1 outcome"
    assert plural(3, "outcome") == "3 outcomes"
    assert plural(1, "analysis", "analyses") == "1 analysis"
    assert plural(2, "analysis", "analyses") == "2 analyses"
    assert plural(None, "visit") == "— visits"


def test_numeric_codes_are_named_in_sentences():
    trial = make_trial(n_per_arm=15, visits=3, outcomes=1, arms=("0", "1"), numeric_visits=True)
    text = visible_text(render_report(trial.config, trial.tables, {}, {}))
    assert "arm 1 minus arm 0" in text
    assert "At visit 8, Outcome 1" in text
    assert visit_label("15") == "visit 15" and visit_label("30d") == "30 days"


# ---- not estimable rows ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def not_estimable():
    trial = make_trial(n_per_arm=20, visits=3, outcomes=3, not_estimable=("all",))
    return trial, render_report(trial.config, trial.tables, {}, {})


def test_not_estimable_rows_read_not_estimable_with_the_reason(not_estimable):
    _, document = not_estimable
    reason = NOT_ESTIMABLE.split(": ", 1)[1]
    marked = f"not estimable ({reason})"
    for section in ("outcomes", "sensitivity", "missing-data", "effect-sizes", "bayes", "all-contrasts"):
        body = document.split(f'<section id="{section}"')[1].split("</section>")[0]
        assert marked in htmllib.unescape(body), section
    text = visible_text(document)
    assert f"At week 3, the Outcome 1 difference between drug and placebo could not be estimated ({reason})." in text
    # the data warnings name each analysis once per outcome, with its visits
    assert f"Outcome 3, MMRM at week 1, week 2 and week 3: the contrasts could not be estimated ({reason})." in text


def test_not_estimable_reason_reads_the_note_of_any_table():
    assert not_estimable_reason({"note": "not estimable: no data at 30d"}) == "no data at 30d"
    assert not_estimable_reason({"approximation": "not estimable: no SE"}) == "no SE"
    assert not_estimable_reason({"note": "fitted", "estimate": 1.0}) is None
    row = pd.DataFrame([{"estimate": np.nan, "or_note": "not estimable: zero cells"}]).iloc[0]
    assert not_estimable_reason(row, "or_note") == "zero cells"


# ---- optional keys, phase ------------------------------------------------------------------------------
def test_no_mcid_leaves_the_mcid_clause_out():
    trial = make_trial(n_per_arm=10, visits=2, outcomes=1, mcid=False)
    text = visible_text(render_report(trial.config, trial.tables, {}, {}))
    assert "larger than the MCID" not in text
    assert "the probability that drug is better than placebo on Outcome 1 is" in text
    assert "times the MCID" not in text


@pytest.mark.parametrize("phase, called, not_called", [
    ("pilot", "Randomized, parallel-group pilot trial of", None),
    ("feasibility", "Randomized, parallel-group feasibility trial of", "pilot trial"),
    (None, "Randomized, parallel-group trial of", "pilot"),
    ("phase 3", "Randomized, parallel-group trial of", "pilot"),
])
def test_a_trial_is_called_a_pilot_only_when_its_config_says_so(phase, called, not_called):
    trial = make_trial(n_per_arm=86, visits=2, outcomes=1, phase=phase)
    text = visible_text(render_report(trial.config, trial.tables, {}, {}))
    assert called in text
    if not_called:
        assert not_called not in text.lower()
    if phase == "pilot":
        assert "This is a pilot trial, so the emphasis is on estimation" in text
        assert "A pilot trial is not powered to test efficacy" in text
        assert "extension to randomised pilot and feasibility trials" in text


def test_one_efficacy_outcome_has_nothing_to_adjust():
    trial = make_trial(n_per_arm=10, visits=2, outcomes=1)
    text = visible_text(render_report(trial.config, trial.tables, {}, {}))
    assert "The primary outcome is the only efficacy outcome, so no p-value is adjusted for multiplicity." in text
    assert "p (Holm)" not in text
    assert "1 efficacy outcome at 2 key visits" in text


# ---- Table 1 ----------------------------------------------------------------------------------------------
def test_table_one_of_a_wide_layout_shows_no_post_baseline_score():
    trial = make_trial(n_per_arm=12, visits=3, outcomes=2, layout_wide=True)
    post = [c for s in trial.config["outcomes"] for v, c in s["columns"].items() if v != "baseline"]
    assert set(post) <= set(trial.raw.columns)  # the wide file has them ...
    variables = set(table_one(trial.analysis, trial.raw, trial.config)["variable"])
    assert variables == {"n", "age", "sex", "Outcome 1 at baseline", "Outcome 2 at baseline"}  # ... Table 1 not


def test_table_one_keeps_participant_level_columns_and_covariates_only():
    trial = make_trial(n_per_arm=12, visits=3, outcomes=1)
    raw = trial.raw.copy()
    raw["pain_today"] = np.arange(len(raw)) % 7  # measured at every visit: not a characteristic
    raw["id"] = np.arange(len(raw))  # a record number
    raw["site"] = np.where(raw["participant"].astype(int) % 2 == 0, "A", "B")  # per participant
    config = {**trial.config, "analysis": {**trial.config["analysis"], "covariates": ["site", "age"]}}
    assert baseline_characteristics(raw, Context(config).trial) == ["site", "age", "sex"]
    variables = list(dict.fromkeys(table_one(trial.analysis, raw, config)["variable"]))
    assert variables == ["n", "site", "age", "sex", "Outcome 1 at baseline"]


def test_table_one_reads_declared_missing_codes_as_missing():
    trial = make_trial(n_per_arm=12, visits=2, outcomes=1)
    raw = trial.raw.copy()
    first = raw["participant"] == raw["participant"].iloc[0]
    raw.loc[first, "age"] = -99
    config = {**trial.config, "data": {**trial.config["data"], "missing_codes": [-99]}}
    table = table_one(trial.analysis, raw, config)
    assert "missing" in set(table.loc[table["variable"] == "age", "level"])
    assert not table.loc[table["variable"] == "age", "overall"].astype(str).str.contains("−").any()


# ---- the report is always written ---------------------------------------------------------------------------
def test_a_section_that_fails_is_replaced_by_a_note(monkeypatch):
    trial = make_trial(n_per_arm=10, visits=2, outcomes=1)

    def broken(_context):
        raise RuntimeError("a bug in one section")

    monkeypatch.setitem(build._BUILDERS, "bayes", broken)
    document = build_document(trial.config, trial.tables, {}, {})
    sections = {s["id"]: s for s in document["sections"]}
    assert sections["bayes"]["blocks"][0]["text"].startswith(SECTION_FAILED)
    assert "a bug in one section" in sections["bayes"]["blocks"][0]["text"]
    assert not any(SECTION_FAILED in str(b.get("text", "")) for s in document["sections"] if s["id"] != "bayes"
                   for b in s["blocks"])


def test_large_trials_say_in_the_caption_how_the_figures_were_drawn(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = tmp_path / "f.png"
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(png)
    plt.close(fig)
    figures = {"primary_trajectories": {"path": png, "caption": "Trajectories.", "section": "outcomes",
                                        "outcome": "Outcome 1"},
               "primary_missing_pattern": {"path": png, "caption": "Pattern.", "section": "missing-data"}}
    large = make_trial(n_per_arm=500, visits=2, outcomes=1)
    small = make_trial(n_per_arm=10, visits=2, outcomes=1)
    text = visible_text(render_report(large.config, large.tables, figures, {}))
    assert "the lines are those of a random sample of 100" in text
    assert "share a row, labelled with their number" in text
    text = visible_text(render_report(small.config, small.tables, figures, {}))
    assert "random sample" not in text and "share a row" not in text


def test_one_point_and_no_remission_read_right():
    trial = make_trial(n_per_arm=10, visits=2, outcomes=1, remission=False)
    tipping = trial.tables["tipping_point"]
    tipping["tipping_delta"] = 1.0
    tipping.loc[tipping["delta"] >= 1, "conclusion"] = "not significant"
    text = visible_text(render_report(trial.config, trial.tables, {}, {}))
    assert "changes to 'not significant' at δ = 1 point" in text
    assert "δ = 1 points" not in text
    assert "the proportions of responders in each arm" in text and "remitters" not in text


def test_a_contrast_without_a_note_gives_the_reason_of_its_model():
    """An outcome without follow-up: NaN contrasts, the reason only in models.csv."""
    trial = make_trial(n_per_arm=10, visits=2, outcomes=2)
    contrasts, models = trial.tables["contrasts"], trial.tables["models"]
    second = contrasts["outcome"] == "Outcome 2"
    contrasts.loc[second, ["estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"]] = np.nan
    models["note"] = np.where(models["outcome"] == "Outcome 2",
                              "no post-baseline change from baseline for Outcome 2: not estimable", "")
    models.loc[models["outcome"] == "Outcome 2", "covariance"] = np.nan
    text = visible_text(render_report(trial.config, trial.tables, {}, {}))
    reason = "no post-baseline change from baseline for Outcome 2"
    assert f"At week 2, the Outcome 2 difference between drug and placebo could not be estimated ({reason})." in text
    assert f"Outcome 2: no MMRM could be fitted ({reason})." in text
    assert f"not estimable ({reason})" in text


def test_without_a_screening_log_the_screening_rates_are_left_out_with_one_sentence():
    trial = make_trial(n_per_arm=15, visits=3, outcomes=1)
    trial.config.get("feasibility", {}).pop("screening_log", None)
    extra = pd.DataFrame([{"measure": m, "arm": "all", "visit": np.nan, "value": np.nan,
                           "note": "not estimable: no screening data"}
                          for m in ("eligibility_rate", "consent_rate", "recruitment_per_month")])
    tables = dict(trial.tables, feasibility=pd.concat([trial.tables["feasibility"], extra], ignore_index=True))
    text = visible_text(render_report(trial.config, tables, {}, {}))
    assert "Eligible among screened" not in text and "Randomized per month" not in text
    assert "No screening log was given" in text
    assert "Retention" in text
