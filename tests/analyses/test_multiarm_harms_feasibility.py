"""Harms, feasibility, mechanism and estimands of a trial with three arms (the dose-ranging demo).

Pairwise tables (adverse events, dissociation) are by definition the two-arm table of each pair
on its participants: checked against a two-arm run of the pair, and their counts and tests
against pandas and scipy on the raw files. Tables by arm (feasibility, mechanism) have every
arm, checked against pandas and scipy on the raw data file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from scipy import stats

from pilottrial.analyses.estimands import ESTIMAND_COLUMNS, estimand_table
from pilottrial.analyses.feasibility import feasibility_table, progression_table
from pilottrial.analyses.harms import (
    ADVERSE_EVENT_COLUMNS,
    ANY_EVENT,
    DISSOCIATION_COLUMNS,
    harms_tables,
    participants_table,
    read_harms,
)
from pilottrial.analyses.mechanism import MECHANISM_COLUMNS, mechanism_table
from pilottrial.config import Trial, load_config
from pilottrial.data import load_trial

CONFIG = REPO_ROOT / "config" / "dose_ranging.yaml"


@pytest.fixture(scope="module")
def three_arm():
    config = load_config(CONFIG)
    trial = Trial.from_config(config)
    analysis = load_trial(config)
    raw = pd.read_csv(config["data"]["path"])
    return config, trial, analysis, raw


@pytest.fixture(scope="module")
def harms(three_arm):
    config, trial, analysis, _ = three_arm
    participants = participants_table(analysis)
    files = read_harms(trial, participants)
    return files, participants, harms_tables(files, participants, trial)


def test_the_demo_has_three_arms(three_arm):
    _, trial, analysis, _ = three_arm
    assert trial.arms == ("midazolam", "ketamine-0.2", "ketamine-0.5")
    assert set(analysis.arm) == set(trial.arms)


def test_harms_tables_have_one_block_per_comparison_that_is_the_two_arm_table_of_the_pair(three_arm, harms):
    config, trial, _, _ = three_arm
    files, participants, tables = harms
    for name, columns in (("adverse_events", ADVERSE_EVENT_COLUMNS), ("dissociation", DISSOCIATION_COLUMNS)):
        table = tables[name]
        assert list(table.columns)[-1] == "treatment"
        assert [c for c in table.columns if c not in ("note", "treatment")] == columns
        assert list(dict.fromkeys(table.treatment)) == [c.name for c in trial.comparisons]
        for comparison in trial.comparisons:
            pair = trial.pair(comparison)
            people = participants[participants.arm.isin(comparison.arms)]
            own = {k: None if v is None else v[v.participant.isin(people.participant)] for k, v in files.items()}
            expected = harms_tables(own, people, pair)[name]
            got = table[table.treatment == comparison.name].drop(columns="treatment").reset_index(drop=True)
            pd.testing.assert_frame_equal(got[expected.columns], expected)


def test_adverse_event_counts_and_fisher_tests_match_the_raw_files(three_arm, harms):
    config, trial, _, raw = three_arm
    _, _, tables = harms
    events = pd.read_csv(config["harms"]["adverse_events"]["path"])
    arm_of = raw.drop_duplicates("participant").set_index("participant")["arm"]
    events["arm"] = events.participant.map(arm_of)
    size = arm_of.value_counts()
    with_any = events.groupby("arm").participant.nunique()
    table = tables["adverse_events"]
    for comparison in trial.comparisons:
        row = table[(table.treatment == comparison.name) & (table.term == ANY_EVENT)].iloc[0]
        t, r = comparison.treatment, comparison.reference
        assert (row.N_treatment, row.N_reference) == (size[t], size[r])
        assert (row.n_treatment, row.n_reference) == (with_any.get(t, 0), with_any.get(r, 0))
        assert row.risk_difference == pytest.approx(with_any.get(t, 0) / size[t] - with_any.get(r, 0) / size[r])
        fisher = stats.fisher_exact([[row.n_treatment, size[t] - row.n_treatment],
                                     [row.n_reference, size[r] - row.n_reference]]).pvalue
        assert row.fisher_p == pytest.approx(fisher, rel=1e-12)


def test_dissociation_welch_test_of_each_pair_matches_scipy(three_arm, harms):
    config, trial, _, raw = three_arm
    _, _, tables = harms
    scores = pd.read_csv(config["harms"]["dissociation"]["path"])
    scores["arm"] = scores.participant.map(raw.drop_duplicates("participant").set_index("participant")["arm"])
    table = tables["dissociation"]
    for comparison in trial.comparisons:
        x = scores.loc[scores.arm == comparison.treatment, "cadss"].dropna()
        y = scores.loc[scores.arm == comparison.reference, "cadss"].dropna()
        row = table[(table.treatment == comparison.name)
                    & (table.statistic == "difference in means (Welch)")].iloc[0]
        test = stats.ttest_ind(x, y, equal_var=False)
        assert row.estimate == pytest.approx(x.mean() - y.mean(), rel=1e-12)
        assert row.p_value == pytest.approx(test.pvalue, rel=1e-10)
        summary = table[(table.treatment == comparison.name) & (table.statistic == "summary")]
        assert list(summary.arm) == [comparison.reference, comparison.treatment]


def test_feasibility_has_every_arm_and_retention_per_arm_matches_the_raw_file(three_arm):
    config, trial, analysis, raw = three_arm
    table = feasibility_table(analysis, trial)
    retention = table[table.measure == "retention"]
    assert list(dict.fromkeys(retention.arm)) == [*trial.arms, "all"]
    scored = raw.set_index(["participant", "visit"])[[o["column"] for o in config["outcomes"]]].notna().any(axis=1)
    for arm in trial.arms:
        people = raw.loc[raw.arm == arm, "participant"].unique()
        for visit in trial.post_baseline:
            seen = sum(bool(scored.get((p, visit), False)) for p in people)
            row = retention[(retention.arm == arm) & (retention.visit == visit)].iloc[0]
            assert (row.numerator, row.denominator) == (seen, len(people))
    randomized = table[(table.measure == "randomized") & (table.arm != "all")]
    assert list(randomized.arm) == list(trial.arms)
    assert randomized.numerator.sum() == raw.participant.nunique()
    # the progression criteria read the rows over all arms, as with two
    progression = progression_table(table, trial)
    at_30d = progression[progression.metric == "retention"].iloc[0]
    overall = retention[(retention.arm == "all") & (retention.visit == at_30d.visit)].iloc[0]
    assert at_30d.observed == overall.value
    assert overall.denominator == raw.participant.nunique()


def test_mechanism_has_every_arm_and_matches_scipy(three_arm):
    config, trial, analysis, _ = three_arm
    table = mechanism_table(analysis, trial)
    assert [c for c in table.columns if c != "note"] == MECHANISM_COLUMNS
    assert list(dict.fromkeys(table.arm)) == [*trial.arms, "all"]
    change = analysis[analysis.visit == "30d"].pivot(index="participant", columns="outcome", values="change")
    arm_of = analysis.drop_duplicates("participant").set_index("participant")["arm"]
    mechanism = trial.mechanism_outcomes[0].name
    for arm in trial.arms:
        pairs = change.loc[arm_of[change.index] == arm, [mechanism, trial.primary.name]].dropna()
        row = table[(table.mechanism_outcome == mechanism) & (table.visit == "30d") & (table.arm == arm)].iloc[0]
        assert row.n == len(pairs)
        if len(pairs) >= 3:
            assert row.pearson_r == pytest.approx(stats.pearsonr(pairs.iloc[:, 0], pairs.iloc[:, 1])[0], rel=1e-10)


def test_estimands_have_one_block_per_comparison(three_arm):
    config, trial, analysis, _ = three_arm
    table = estimand_table(trial, analysis)
    assert list(table.columns) == ESTIMAND_COLUMNS + ["comparison"]
    assert list(dict.fromkeys(table.comparison)) == [c.name for c in trial.comparisons]
    blocks = [table[table.comparison == c.name].reset_index(drop=True) for c in trial.comparisons]
    assert len({len(b) for b in blocks}) == 1
    for comparison, block in zip(trial.comparisons, blocks):
        assert (block.treatment == f"{comparison.treatment} versus {comparison.reference}, as randomized").all()
        assert list(block.outcome) == list(blocks[0].outcome)
    assert set(blocks[0].outcome) == set(trial.outcome_names)
    assert np.all(blocks[0].drop(columns=["treatment", "comparison"]).to_numpy()
                  == blocks[1].drop(columns=["treatment", "comparison"]).to_numpy())
