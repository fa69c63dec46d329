"""The rows every sensitivity analysis returns, and how a failure becomes a row.

Each analysis gives one row per key visit with :data:`SENSITIVITY_COLUMNS`: the contrast
columns of the primary analysis (:data:`pilottrial.models.primary.CONTRAST_COLUMNS`),
``analysis`` and ``note``. A row that cannot be estimated has NaN numbers and the reason in
``note`` (starting "not estimable"); nothing raises for a numerical reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import not_estimable, outcome_frame, outcome_label
from pilottrial.models.mmrm import MMRMError
from pilottrial.models.primary import CONTRAST_COLUMNS

__all__ = ["SENSITIVITY_COLUMNS", "FAILURES", "prepare", "no_follow_up", "visit_row", "failed_rows",
           "sensitivity_table", "per_visit", "t_interval", "contrast_rows"]

SENSITIVITY_COLUMNS = CONTRAST_COLUMNS + ["analysis", "note"]
#: Numerical failures that give a row of NaN with the reason, never a crash.
FAILURES = (MMRMError, np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError)


def prepare(frame: pd.DataFrame, reference, treatment, visits, outcome) -> tuple:
    """``(frame, visits, outcome)`` of a primitive's arguments: the frame coded
    (:func:`~pilottrial.analyses.common.outcome_frame`), the visits to report (default every
    visit of the frame) and the outcome label."""
    frame = outcome_frame(frame, reference, treatment)
    visits = list(frame["visit"].cat.categories) if visits is None else list(visits)
    return frame, visits, outcome_label(frame, outcome)


def no_follow_up(frame: pd.DataFrame, outcome: str) -> str | None:
    """The reason why a model of ``frame`` cannot be fitted at all when it has no row (an outcome
    without any post-baseline change); None otherwise."""
    if len(frame):
        return None
    return f"{outcome} has no change from baseline at any post-baseline visit"


def visit_row(outcome, analysis, model, visit, estimate=np.nan, std_error=np.nan, df=np.nan,
              ci_lower=np.nan, ci_upper=np.nan, p_value=np.nan, note="") -> dict:
    return {"outcome": outcome, "model": model, "visit": str(visit), "estimate": float(estimate),
            "std_error": float(std_error), "df": float(df), "ci_lower": float(ci_lower),
            "ci_upper": float(ci_upper), "p_value": float(p_value), "analysis": analysis, "note": note}


def failed_rows(outcome, analysis, model, visits, reason) -> list:
    """A row of NaN per visit, ``note`` "not estimable: <reason>" (at most 300 characters)."""
    return [visit_row(outcome, analysis, model, v, note=not_estimable(reason)) for v in visits]


def sensitivity_table(rows) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    for col in ("estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"):
        table[col] = table[col].astype(float)
    return table


def per_visit(outcome, analysis, model, frame, visits, estimate_at) -> list:
    """Rows for ``visits``: ``estimate_at(visit)`` gives a row's numbers (dict) or raises."""
    rows = []
    measured = list(frame["visit"].cat.categories)
    for visit in visits:
        if visit not in measured:
            rows.append(visit_row(outcome, analysis, model, visit,
                                  note=f"not estimable: {outcome} has no change from baseline at {visit}"))
            continue
        try:
            rows.append(visit_row(outcome, analysis, model, visit, **estimate_at(visit)))
        except FAILURES as exc:
            rows.append(visit_row(outcome, analysis, model, visit, note=not_estimable(exc)))
    return rows


def t_interval(estimate, std_error, df, alpha):
    half = stats.t.ppf(1 - alpha / 2, df) * std_error
    return estimate - half, estimate + half


def contrast_rows(fit, outcome, analysis, model, reference, treatment, visits, alpha, note) -> list:
    """Treatment contrasts of an MMRM-engine fit at ``visits``."""
    table = fit.treatment_contrasts("arm", reference, treatment, visit="visit", alpha=alpha)
    if "visit" not in fit.factor_levels:  # one post-baseline visit: the single contrast is at that visit
        table["visit"] = list(fit.model_frame["visit"].cat.categories)
    by_visit = table.set_index(table["visit"].astype(str))
    rows = []
    for visit in visits:
        if visit not in by_visit.index:
            rows.append(visit_row(outcome, analysis, model, visit,
                                  note=f"not estimable: {outcome} has no change from baseline at {visit}"))
            continue
        r = by_visit.loc[visit]
        rows.append(visit_row(outcome, analysis, model, visit, r["estimate"], r["std_error"], r["df"],
                              r["ci_lower"], r["ci_upper"], r["p_value"], note))
    return rows
