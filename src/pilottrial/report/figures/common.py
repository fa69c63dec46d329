"""What the figures share: the order of arms, visits and outcomes, and the rows of one outcome.

Every figure shows the reference arm first, then the treatment arm, then any other arm found in
the data (sorted); visits in the trial's order; efficacy outcomes in config order, the primary
first. Labels (participant, arm, visit) are text.
"""

from __future__ import annotations

import pandas as pd

from pilottrial.config.trial import Outcome, Trial

__all__ = ["arm_order", "visit_order", "outcome_spec", "efficacy_names", "responder_improvement",
           "outcome_rows", "participants"]


def arm_order(trial: Trial, analysis: pd.DataFrame | None = None) -> list[str]:
    """Reference arm, treatment arm, then any other arm present in ``analysis`` (sorted)."""
    ordered = list(trial.arms)
    if analysis is not None and "arm" in analysis:
        present = sorted({str(a) for a in analysis["arm"].dropna().unique()})
        ordered += [a for a in present if a not in ordered]
    return ordered


def visit_order(trial: Trial, analysis: pd.DataFrame | None = None) -> list[str]:
    """The trial's visit order; without one, the visits of ``analysis`` sorted."""
    order = list(trial.visit_order)
    if order or analysis is None:
        return order
    return sorted({str(v) for v in analysis["visit"].dropna().unique()})


def outcome_spec(trial: Trial, name: str) -> Outcome | None:
    """The outcome called ``name``; None when the trial does not list it."""
    try:
        return trial.outcome(str(name))
    except KeyError:
        return None


def efficacy_names(trial: Trial) -> list[str]:
    """Efficacy outcomes in config order, the primary first."""
    return [o.name for o in sorted(trial.efficacy_outcomes, key=lambda o: 0 if o.primary else 1)]


def responder_improvement(trial: Trial) -> float:
    """``analysis.responder_improvement``: the relative improvement that makes a responder (0.3)."""
    return float((trial.config.get("analysis", {}) or {}).get("responder_improvement", 0.3))


def outcome_rows(analysis: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Rows of one outcome with text keys and numeric scores (ValueError when there are none)."""
    rows = analysis.loc[analysis["outcome"].astype(str) == str(outcome)].copy()
    if rows.empty:
        raise ValueError(f"outcome {outcome!r} not found in the analysis table")
    for column in ("participant", "arm", "visit"):
        rows[column] = rows[column].astype(str)
    for column in ("baseline", "score", "change"):
        if column in rows:
            rows[column] = pd.to_numeric(rows[column], errors="coerce")
    return rows


def participants(analysis: pd.DataFrame) -> pd.DataFrame:
    """One row per participant (``participant, arm`` as text), sorted by participant code."""
    people = analysis[["participant", "arm"]].drop_duplicates("participant").copy()
    people["participant"] = people["participant"].astype(str)
    people["arm"] = people["arm"].astype(str)
    return people.sort_values("participant", kind="mergesort").reset_index(drop=True)
