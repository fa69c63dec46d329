"""Synthetic trials with three or more arms for the report tests, made from the two-arm ones of
:mod:`report_trials`: the treatment arm's participants are dealt out to k - 1 treatment arms, and
every result table takes the k-arm form of the output contract (issue 12): tables by arm get the
rows of every arm, tables of between-arm results one block of rows per comparison with a last
column ``treatment`` naming it (contrasts.csv also ``ci_lower_adjusted, ci_upper_adjusted,
p_value_adjusted``). The numbers of the later comparisons are shifted so that the comparisons
differ; they are fixtures, not analyses.

    from karm_trials import make_karm_trial
    trial = make_karm_trial(treatments=("low dose", "high dose"))
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from report_trials import SyntheticTrial, make_trial

from pilottrial.config.load import validate_config
from pilottrial.config.trial import Trial
from pilottrial.report.figures.baseline_table import table_one

__all__ = ["make_karm_trial", "karm_tables", "COMPARISON_TABLES", "ARM_TABLES"]

#: Tables of between-arm results: one block of rows per comparison, ``treatment`` last.
COMPARISON_TABLES = ("contrasts", "multiplicity", "effect_sizes", "responders", "posterior", "sensitivity",
                     "multiple_imputation", "tipping_point", "adverse_events")
#: Tables by arm: the rows of every arm.
ARM_TABLES = ("descriptives", "feasibility", "missing_data", "mechanism")
_SHIFTED = ("estimate", "ci_lower", "ci_upper", "posterior_mean", "risk_difference", "rd_ci_lower", "rd_ci_upper")


def karm_tables(tables: dict, trial: Trial, old_treatment: str) -> dict:
    """The k-arm form of two-arm result tables (see the module docstring)."""
    out = {}
    for name, table in tables.items():
        if name in COMPARISON_TABLES:
            blocks = []
            for i, comparison in enumerate(trial.comparisons):
                block = table.copy()
                for column in _SHIFTED:
                    if column in block:
                        block[column] = pd.to_numeric(block[column], errors="coerce") - 1.5 * i
                block["treatment"] = comparison.name
                if name == "contrasts":
                    est = pd.to_numeric(block["estimate"], errors="coerce")
                    half = (pd.to_numeric(block["ci_upper"], errors="coerce") - est) * 1.15
                    block["ci_lower_adjusted"] = est - half
                    block["ci_upper_adjusted"] = est + half
                    block["p_value_adjusted"] = np.minimum(1.0, pd.to_numeric(block["p_value"], errors="coerce") * 1.9)
                blocks.append(block)
            out[name] = pd.concat(blocks, ignore_index=True)
        elif name in ARM_TABLES and "arm" in table:
            arm = table["arm"].astype(str)
            parts = [table.loc[arm != old_treatment]]
            for t in trial.treatments:
                parts.append(table.loc[arm == old_treatment].assign(arm=t))
            out[name] = pd.concat(parts, ignore_index=True)
        else:
            out[name] = table
    return out


def make_karm_trial(treatments: tuple = ("drug-low", "drug-high"), reference: str = "placebo",
                    comparisons: str = "vs_reference", adjustment: str = "dunnett", **options) -> SyntheticTrial:
    """A synthetic trial of ``1 + len(treatments)`` arms (options as :func:`report_trials.make_trial`)."""
    base = make_trial(arms=(reference, "drug"), **options)
    config = {k: v for k, v in base.config.items()}
    config["arms"] = {"reference": reference, "treatments": list(treatments)}
    config["analysis"] = {**config.get("analysis", {}), "comparisons": comparisons, "arm_adjustment": adjustment}
    config = validate_config(config)
    trial = Trial.from_config(config)
    people = sorted(base.analysis.loc[base.analysis["arm"].astype(str) == "drug", "participant"].astype(str).unique())
    new_arm = {p: treatments[i % len(treatments)] for i, p in enumerate(people)}

    def relabel(frame: pd.DataFrame, pid: str, arm: str) -> pd.DataFrame:
        frame = frame.copy()
        ids = frame[pid].astype(str)
        frame[arm] = [new_arm.get(p, a) for p, a in zip(ids, frame[arm].astype(str))]
        return frame

    analysis = relabel(base.analysis, "participant", "arm")
    columns = config.get("columns", {})
    raw = relabel(base.raw, columns.get("participant", "participant"), columns.get("arm", "arm"))
    tables = karm_tables(base.tables, trial, "drug")
    if "table_one" in tables:
        tables["table_one"] = table_one(analysis, raw, config)
    return SyntheticTrial(config=config, analysis=analysis, raw=raw, tables=tables)
