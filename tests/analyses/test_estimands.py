"""Estimands: one row per outcome x intercurrent event, declared values verbatim, documented
defaults otherwise."""

from __future__ import annotations

import yaml
from conftest import REPO_ROOT

from pilottrial.analyses.estimands import (
    DEFAULT_INTERCURRENT_EVENT,
    DEFAULT_POPULATION,
    DEFAULT_STRATEGY,
    ESTIMAND_COLUMNS,
    estimand_table,
)
from pilottrial.config.load import validate_config

CAPS5_ESTIMAND = {
    "population": "adults with chronic PTSD (CAPS-5 >= 30) randomized to a single infusion",
    "variable": "change from baseline in CAPS-5 total at 24 hours",
    "intercurrent_events": [
        {"event": "dropout before the visit", "strategy": "hypothetical"},
        {"event": "start of a new psychotropic medication or psychotherapy", "strategy": "treatment policy"},
    ],
    "summary": "difference in mean change (ketamine - midazolam), MMRM",
}
MECHANISM = [
    {"name": "Amygdala reactivity", "column": "amygdala_reactivity", "range": [None, None], "role": "mechanism"},
]


def demo_config(estimand=None, mechanism=False) -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["data"]["path"] = str((REPO_ROOT / "config" / config["data"]["path"]).resolve())
    config.pop("harms", None)
    config.pop("feasibility", None)
    config["outcomes"] = [o for o in config["outcomes"] if o.get("role") != "mechanism"]
    for o in config["outcomes"]:
        o.pop("estimand", None)
    if estimand is not None:
        config["outcomes"][0]["estimand"] = estimand
    if mechanism:
        config["outcomes"] += MECHANISM
    return validate_config(config, base_dir=REPO_ROOT / "config")


def test_defaults_for_every_outcome():
    config = demo_config()
    table = estimand_table(config)
    assert list(table.columns) == ESTIMAND_COLUMNS
    assert table["outcome"].tolist() == [o["name"] for o in config["outcomes"]]
    assert (table["population"] == DEFAULT_POPULATION).all()
    assert (table["intercurrent_event"] == DEFAULT_INTERCURRENT_EVENT).all()
    assert (table["strategy"] == DEFAULT_STRATEGY).all() and DEFAULT_STRATEGY == "hypothetical (MAR)"
    first = table.iloc[0]
    assert first["variable"] == "change from baseline in CAPS-5 at 24h and 30d"
    assert first["summary"] == "difference in mean change from baseline at 24h and 30d (MMRM)"
    assert first["treatment"] == "ketamine versus midazolam, as randomized"
    assert not table.isna().any().any()


def test_declared_estimand_is_used_verbatim_one_row_per_event():
    table = estimand_table(demo_config(CAPS5_ESTIMAND))
    caps = table[table["outcome"] == "CAPS-5"]
    assert len(caps) == 2
    assert caps["intercurrent_event"].tolist() == [e["event"] for e in CAPS5_ESTIMAND["intercurrent_events"]]
    assert caps["strategy"].tolist() == ["hypothetical", "treatment policy"]
    assert (caps["population"] == CAPS5_ESTIMAND["population"]).all()
    assert (caps["variable"] == CAPS5_ESTIMAND["variable"]).all()
    assert (caps["summary"] == CAPS5_ESTIMAND["summary"]).all()
    assert (table.loc[table["outcome"] != "CAPS-5", "strategy"] == DEFAULT_STRATEGY).all()


def test_partly_declared_estimand_is_completed():
    table = estimand_table(demo_config({"population": "completers"}))
    first = table.iloc[0]
    assert first["population"] == "completers"
    assert first["strategy"] == DEFAULT_STRATEGY
    assert first["summary"].endswith("(MMRM)")


def test_empty_list_of_events():
    table = estimand_table(demo_config({"intercurrent_events": []}))
    first = table.iloc[0]
    assert (first["intercurrent_event"], first["strategy"]) == ("none", "not applicable")


def test_analysis_table_names_the_measured_visits_and_ancova(demo_analysis):
    config = demo_config(mechanism=True)
    measured = demo_analysis[demo_analysis.outcome.isin([o["name"] for o in config["outcomes"]])]
    table = estimand_table(config, measured).set_index("outcome")
    assert table.loc["Amygdala reactivity", "variable"] == "change from baseline in Amygdala reactivity at 30d"
    assert table.loc["Amygdala reactivity", "summary"].endswith("at 30d (ANCOVA)")
    assert table.loc["CAPS-5", "summary"].endswith("at 24h and 30d (MMRM)")
    without = estimand_table(config).set_index("outcome")
    assert without.loc["CAPS-5", "summary"] == table.loc["CAPS-5", "summary"]


def test_without_a_baseline_visit():
    config = demo_config()
    config["visits"].pop("baseline")
    table = estimand_table(config)
    assert table.iloc[0]["variable"] == "CAPS-5 at 24h and 30d"
    assert table.iloc[0]["summary"].startswith("difference in mean score")


def test_numeric_arm_codes_read_as_arms():
    config = demo_config()
    config["arms"] = {"reference": "0", "treatment": "1"}
    table = estimand_table(config)
    assert (table["treatment"] == "arm 1 versus arm 0, as randomized").all()
