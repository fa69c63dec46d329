"""Harms: adverse events (Newcombe risk difference, Fisher exact) and dissociation (Welch,
Hodges-Lehmann, Mann-Whitney), checked against textbook values and R, and the input checks."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT
from scipy import stats

from pilottrial.analyses.harms import (
    ADVERSE_EVENT_COLUMNS,
    ANY_EVENT,
    DISSOCIATION_COLUMNS,
    adverse_event_table,
    dissociation_table,
    harms_tables,
    participants_table,
    read_adverse_events,
    read_dissociation,
    read_harms,
)
from pilottrial.analyses.nonparametric import hodges_lehmann, mann_whitney_null_cdf
from pilottrial.config.load import validate_config
from pilottrial.errors import InputError

DEMO = REPO_ROOT / "data" / "demo"
ARMS = ("midazolam", "ketamine")  # reference, treatment of the demo


def demo_config(**harms_override) -> dict:
    """The demo config with the harms files (absolute paths)."""
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["data"]["path"] = str((REPO_ROOT / "config" / config["data"]["path"]).resolve())
    config["harms"] = {
        "adverse_events": {"path": str(DEMO / "adverse_events.csv")},
        "dissociation": {"path": str(DEMO / "dissociation.csv"), "name": "CADSS", "timepoint": "40 min"},
    } | harms_override
    config.pop("feasibility", None)
    return validate_config(config, base_dir=REPO_ROOT / "config")


@pytest.fixture(scope="module")
def config() -> dict:
    return demo_config()


@pytest.fixture(scope="module")
def participants(demo_analysis) -> pd.DataFrame:
    return participants_table(demo_analysis)


def _two_arm(n_t, N_t, n_r, N_r):
    """participants and adverse events with n of N participants having one event per arm."""
    ids_t = [f"T{i:03d}" for i in range(N_t)]
    ids_r = [f"R{i:03d}" for i in range(N_r)]
    participants = pd.DataFrame({"participant": ids_t + ids_r,
                                 "arm": ["ketamine"] * N_t + ["midazolam"] * N_r})
    events = pd.DataFrame({"participant": ids_t[:n_t] + ids_r[:n_r], "term": "nausea"})
    return events, participants


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(
    "counts, expected",
    [
        # Newcombe RG, Stat Med 1998;17:873-890, Table II, method 10 (hybrid score)
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((10, 10, 0, 10), (0.6075, 1.0000)),
    ],
)
def test_risk_difference_matches_newcombe_1998_table_ii(counts, expected):
    events, participants = _two_arm(*counts)
    # the "any" row: defined also when nobody has an event (a term row needs an event)
    row = adverse_event_table(events, participants, *ARMS).set_index("term").loc[ANY_EVENT]
    n_t, N_t, n_r, N_r = counts
    assert row["risk_difference"] == pytest.approx(n_t / N_t - n_r / N_r)
    assert (row["rd_ci_lower"], row["rd_ci_upper"]) == pytest.approx(expected, abs=5e-5)


def test_fisher_exact_matches_the_lady_tasting_tea():
    # Fisher (1935): 3 of 4 cups right -> two-sided p = 34/70 = 0.4857
    events, participants = _two_arm(3, 4, 1, 4)
    row = adverse_event_table(events, participants, *ARMS).set_index("term").loc["nausea"]
    assert row["fisher_p"] == pytest.approx(34 / 70, abs=1e-12)


def test_demo_adverse_events_match_pandas_and_r(config, participants):
    raw = pd.read_csv(DEMO / "adverse_events.csv", dtype=str)
    table = adverse_event_table(read_adverse_events(config, participants), participants, *ARMS)
    assert list(table.columns) == ADVERSE_EVENT_COLUMNS
    assert table["term"].iloc[0] == ANY_EVENT
    assert set(table["term"].iloc[1:]) == set(raw["term"])
    arm = participants.set_index("participant")["arm"]
    raw["arm"] = raw["participant"].map(arm)
    per_term = raw.groupby(["term", "arm"])["participant"].nunique().unstack(fill_value=0)
    rows = table.set_index("term")
    for term in per_term.index:
        assert rows.loc[term, "n_treatment"] == per_term.loc[term, "ketamine"]
        assert rows.loc[term, "n_reference"] == per_term.loc[term, "midazolam"]
    assert rows.loc[ANY_EVENT, "n_treatment"] == raw.loc[raw["arm"] == "ketamine", "participant"].nunique()
    assert rows.loc[ANY_EVENT, "events_treatment"] == (raw["arm"] == "ketamine").sum()
    assert rows.loc[ANY_EVENT, "events_reference"] == (raw["arm"] == "midazolam").sum()
    assert (table["N_treatment"] == 14).all() and (table["N_reference"] == 13).all()
    assert np.allclose(table["pct_treatment"], 100 * table["n_treatment"] / 14)
    # dissociation 9/14 vs 1/13: R 4.2.2 fisher.test(matrix(c(9, 5, 1, 12), 2))$p.value
    assert rows.loc["dissociation", "fisher_p"] == pytest.approx(0.0044241037376, rel=1e-9)
    # most frequent first after "any"
    totals = (table["n_treatment"] + table["n_reference"]).iloc[1:].to_numpy()
    assert np.all(np.diff(totals) <= 0)
    assert not table.isna().any().any()


def test_repeated_episodes_count_as_events_not_participants():
    events, participants = _two_arm(2, 5, 1, 5)
    events = pd.concat([events, events.iloc[[0]]], ignore_index=True)
    row = adverse_event_table(events, participants, *ARMS).set_index("term").loc["nausea"]
    assert (row["n_treatment"], row["events_treatment"]) == (2, 3)


def test_no_adverse_events_gives_the_any_row_with_zeros(participants):
    table = adverse_event_table(None, participants, *ARMS)
    assert table["term"].tolist() == [ANY_EVENT]
    assert table.loc[0, ["n_treatment", "n_reference", "events_treatment"]].tolist() == [0, 0, 0]
    assert table.loc[0, "fisher_p"] == 1.0 and table.loc[0, "risk_difference"] == 0.0


# --------------------------------------------------------------------------- dissociation

# R 4.2.2: wilcox.test(x, y, conf.int = TRUE, exact = TRUE) (no ties)
HL_X = [3.691, 4.643, 3.661, 0.394, 4.811, 3.893, 1.926, 4.162, 3.729, 3.581, 3.057, 4.093, 1.527, 2.674]
HL_Y = [0.036, 2.198, 1.079, 0.415, -0.564, 0.486, 1.016, 0.449, 3.588, 3.013, -4.422, -2.778, 0.65]


def test_hodges_lehmann_matches_r_wilcox_test():
    hl = hodges_lehmann(HL_X, HL_Y)
    assert hl["method"] == "exact"
    assert hl["estimate"] == pytest.approx(3.0125)
    assert (hl["ci_lower"], hl["ci_upper"]) == (1.463, 3.747)
    hl90 = hodges_lehmann(HL_X, HL_Y, alpha=0.10)
    assert (hl90["ci_lower"], hl90["ci_upper"]) == (1.595, 3.655)
    p = stats.mannwhitneyu(HL_X, HL_Y, method="exact").pvalue
    assert p == pytest.approx(0.000201014044062, rel=1e-9)


@pytest.mark.parametrize("m, n", [(3, 4), (5, 5), (8, 6)])
def test_exact_mann_whitney_distribution_matches_scipy(m, n):
    cdf = mann_whitney_null_cdf(m, n)
    rng = np.random.default_rng(m * 10 + n)
    for _ in range(5):
        x, y = rng.normal(size=m), rng.normal(size=n)
        result = stats.mannwhitneyu(x, y, alternative="less", method="exact")
        assert cdf[int(result.statistic)] == pytest.approx(result.pvalue, rel=1e-12)


def test_hodges_lehmann_normal_rule_for_large_samples():
    rng = np.random.default_rng(5)
    x, y = rng.normal(1, 1, 120), rng.normal(0, 1, 100)  # 12,000 pairs: large-sample rule
    hl = hodges_lehmann(x, y)
    assert hl["method"] == "normal"
    assert hl["ci_lower"] < hl["estimate"] < hl["ci_upper"]
    assert hl["estimate"] == pytest.approx(np.median(np.subtract.outer(x, y)))


def test_demo_dissociation_matches_pandas_and_r(config, participants):
    raw = pd.read_csv(DEMO / "dissociation.csv")
    table = harms_tables(read_harms(config, participants), participants, config)["dissociation"]
    assert list(table.columns) == DISSOCIATION_COLUMNS
    assert table["arm"].tolist() == ["midazolam", "ketamine", "ketamine - midazolam", "ketamine - midazolam"]
    arm = raw["participant"].map(participants.set_index("participant")["arm"])
    summary = table[table["statistic"] == "summary"].set_index("arm")
    for a, g in raw.groupby(arm)["cadss"]:
        assert summary.loc[a, "n"] == g.size
        assert summary.loc[a, "mean"] == pytest.approx(g.mean())
        assert summary.loc[a, "sd"] == pytest.approx(g.std())
        assert summary.loc[a, "median"] == g.median()
        assert (summary.loc[a, "q1"], summary.loc[a, "q3"]) == (g.quantile(0.25), g.quantile(0.75))
    welch = table.set_index("statistic").loc["difference in means (Welch)"]
    # R 4.2.2: t.test(k, m) on the demo file
    assert (welch["ci_lower"], welch["ci_upper"]) == pytest.approx((8.11923591223, 21.1445003515), rel=1e-9)
    assert welch["df"] == pytest.approx(13.7768383675, rel=1e-9)
    assert welch["p_value"] == pytest.approx(2.81422437359e-04, rel=1e-8)
    shift = table.set_index("statistic").loc["Hodges-Lehmann shift (Mann-Whitney)"]
    # R 4.2.2: wilcox.test(k, m)$p.value (ties: normal approximation with correction)
    assert shift["p_value"] == pytest.approx(2.75926234493e-04, rel=1e-8)
    keta = raw.loc[arm == "ketamine", "cadss"].to_numpy()
    mida = raw.loc[arm == "midazolam", "cadss"].to_numpy()
    assert shift["estimate"] == np.median(np.subtract.outer(keta, mida))
    assert shift["ci_lower"] <= shift["estimate"] <= shift["ci_upper"]
    contrast = table[table["statistic"] != "summary"]
    assert not contrast[["n", "estimate", "ci_lower", "ci_upper", "p_value"]].isna().any().any()
    assert not summary[["n", "mean", "sd", "median", "q1", "q3", "minimum", "maximum"]].isna().any().any()


def test_dissociation_table_accepts_the_raw_file(config, participants):
    raw = pd.read_csv(DEMO / "dissociation.csv")
    a = dissociation_table(raw, participants, *ARMS, score="cadss")
    b = dissociation_table(read_dissociation(config, participants), participants, *ARMS)
    pd.testing.assert_frame_equal(a, b)
    c = harms_tables({"adverse_events": None, "dissociation": raw}, participants, config)["dissociation"]
    pd.testing.assert_frame_equal(a, c)


def test_harms_tables_use_the_configured_scale_and_tolerate_a_missing_file(config, participants):
    harms = read_harms(config, participants)
    tables = harms_tables(harms, participants, config)
    pd.testing.assert_frame_equal(tables["adverse_events"],
                                  adverse_event_table(harms["adverse_events"], participants, *ARMS, alpha=0.05))
    assert tables["dissociation"][["scale", "timepoint"]].drop_duplicates().values.tolist() == [["CADSS", "40 min"]]
    empty = harms_tables({"adverse_events": harms["adverse_events"], "dissociation": None}, participants,
                         config)["dissociation"]
    assert empty["n"].tolist() == [0, 0, 0, 0] and empty["estimate"].isna().all()


# --------------------------------------------------------------------------- input checks


def _message(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = info.value.one_line()
    assert "\n" not in message and message.startswith("error: ") and "-- fix:" in message
    return message


def _with_file(tmp_path, name, text, kind):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    spec = {"path": str(path)}
    return demo_config(**{kind: spec}), path


def test_unknown_participant_names_file_line_and_column(tmp_path, participants):
    text = (DEMO / "adverse_events.csv").read_text().replace("PT-2PE6,dizziness", "PT-ZZZZ,dizziness")
    config, path = _with_file(tmp_path, "ae.csv", text, "adverse_events")
    message = _message(lambda: read_harms(config, participants))
    assert str(path) in message and "line 5" in message and "'participant'" in message
    assert "PT-ZZZZ" in message


def test_read_harms_learns_the_participants_from_the_trial_data(tmp_path):
    text = (DEMO / "dissociation.csv").read_text().replace("PT-2PE6,18", "PT-ZZZZ,18")
    config, path = _with_file(tmp_path, "cadss.csv", text, "dissociation")
    message = _message(lambda: read_harms(config))
    assert str(path) in message and "line 3" in message and "PT-ZZZZ" in message


def test_missing_column_suggests_a_close_name(tmp_path, participants):
    text = (DEMO / "adverse_events.csv").read_text().replace("participant,term", "participant,terms", 1)
    config, path = _with_file(tmp_path, "ae.csv", text, "adverse_events")
    message = _message(lambda: read_adverse_events(config, participants))
    assert str(path) in message and "['term']" in message and "'terms'" in message


def test_empty_term_names_the_line(tmp_path, participants):
    text = (DEMO / "adverse_events.csv").read_text().replace("PT-2PE6,dizziness", "PT-2PE6,")
    config, path = _with_file(tmp_path, "ae.csv", text, "adverse_events")
    message = _message(lambda: read_adverse_events(config, participants))
    assert "line 5" in message and "'term'" in message and "empty adverse event term" in message


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("PT-2PE6,18", "PT-2PE6,high", "'high' is not a number"),
        ("PT-2PE6,18", "PT-2PE6,93", "outside [0, 92]"),
        ("PT-2PE6,18", "PT-2PE6,-1", "outside [0, 92]"),
        ("PT-2PE6,18", "PT-2IKG,18", "more than one CADSS row"),
    ],
)
def test_bad_dissociation_scores(tmp_path, participants, old, new, expected):
    text = (DEMO / "dissociation.csv").read_text().replace(old, new)
    config, path = _with_file(tmp_path, "cadss.csv", text, "dissociation")
    message = _message(lambda: read_dissociation(config, participants))
    assert str(path) in message and expected in message
    assert "line 3" in message or "lines 2, 3" in message


def test_semicolon_file_is_named_as_such(tmp_path, participants):
    text = (DEMO / "adverse_events.csv").read_text().replace(",", ";")
    config, path = _with_file(tmp_path, "ae.csv", text, "adverse_events")
    assert "not comma-separated" in _message(lambda: read_adverse_events(config, participants))


def test_missing_file(tmp_path, participants):
    config = demo_config(adverse_events={"path": str(tmp_path / "nope.csv")})
    message = _message(lambda: read_adverse_events(config, participants))
    assert "nope.csv" in message and "not found" in message


def test_not_configured_gives_none(participants):
    config = copy.deepcopy(demo_config())
    config.pop("harms")
    assert read_harms(config, participants) == {"adverse_events": None, "dissociation": None}


def test_extra_columns_are_ignored(tmp_path, participants):
    raw = pd.read_csv(DEMO / "adverse_events.csv")
    raw["severity"] = "mild"
    path = tmp_path / "ae.csv"
    raw.to_csv(path, index=False)
    config = demo_config(adverse_events={"path": str(path)})
    pd.testing.assert_frame_equal(read_adverse_events(config, participants),
                                  pd.read_csv(DEMO / "adverse_events.csv", dtype=str).astype(object),
                                  check_dtype=False)
