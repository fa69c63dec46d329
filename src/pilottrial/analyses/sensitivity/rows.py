"""The rows every sensitivity analysis returns, and how a failure becomes a row.

Each analysis gives one row per key visit with :data:`SENSITIVITY_COLUMNS`: the contrast
columns of the primary analysis (:data:`pilottrial.models.primary.CONTRAST_COLUMNS`),
``analysis`` and ``note``. A row that cannot be estimated has NaN numbers and the reason in
``note`` (starting "not estimable"); nothing raises for a numerical reason.

Three or more arms: a primitive called with a list of treatment arms (and optionally the
comparisons, :class:`~pilottrial.config.Comparison`) fits one model of all arms and returns the
rows of each comparison, in order, with a last column ``treatment`` (``Comparison.name``):
:func:`arm_comparisons`, :func:`prepare_arms`, :func:`comparison_table`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import not_estimable, outcome_frame, outcome_label
from pilottrial.config.trial import Comparison
from pilottrial.models.mmrm import MMRMError
from pilottrial.models.primary import CONTRAST_COLUMNS

__all__ = ["SENSITIVITY_COLUMNS", "FAILURES", "prepare", "no_follow_up", "visit_row", "failed_rows",
           "sensitivity_table", "per_visit", "t_interval", "contrast_rows", "arm_comparisons", "prepare_arms",
           "comparison_table", "cached"]

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


def arm_comparisons(reference, treatment, comparisons=None) -> tuple:
    """``(arms, comparisons)`` of a primitive's arguments; ``(None, None)`` for two arms.

    Two arms: ``treatment`` is one label and ``comparisons`` None. Three or more: ``treatment``
    is the list of treatment arms (the model's arm levels are ``[reference, *treatment]``) and
    ``comparisons`` the comparisons to report, default each treatment minus ``reference``.

    Examples
    --------
    >>> arms, comparisons = arm_comparisons("placebo", ["low", "high"])
    >>> arms, [c.name for c in comparisons]
    (['placebo', 'low', 'high'], ['low', 'high'])
    """
    if comparisons is None and not isinstance(treatment, (list, tuple)):
        return None, None
    treatments = list(treatment) if isinstance(treatment, (list, tuple)) else [treatment]
    arms = [reference, *treatments]
    comparisons = list(comparisons) if comparisons is not None else [Comparison(t, reference, t) for t in treatments]
    unknown = sorted({str(a) for c in comparisons for a in c.arms} - {str(a) for a in arms})
    if unknown:
        raise ValueError(f"comparisons name arms {unknown} that are not among the arms {arms}")
    return arms, comparisons


def prepare_arms(frame: pd.DataFrame, arms, visits, outcome) -> tuple:
    """:func:`prepare` for a model of all ``arms``: ``arm`` a Categorical of ``arms`` (rows of other
    arms dropped), post-baseline rows with an observed change and baseline, ``visit`` a
    Categorical of the visits with data. A frame coded so already (e.g. the
    :func:`pilottrial.models.frame.model_frame` of the trial) is used as it is."""
    arm, visit = frame["arm"], frame["visit"]
    coded = (isinstance(arm.dtype, pd.CategoricalDtype) and list(arm.cat.categories) == list(arms)
             and isinstance(visit.dtype, pd.CategoricalDtype))
    if not coded:
        order = list(visit.cat.categories) if isinstance(visit.dtype, pd.CategoricalDtype) else list(pd.unique(visit))
        frame = frame.dropna(subset=["change", "baseline"]).copy()
        frame["arm"] = pd.Categorical(frame["arm"].astype(str), [str(a) for a in arms])
        frame = frame[frame["arm"].notna()]
        present = set(frame["visit"])
        frame["visit"] = pd.Categorical(frame["visit"], [v for v in order if v in present])
    visits = list(frame["visit"].cat.categories) if visits is None else list(visits)
    return frame, visits, outcome_label(frame, outcome)


def comparison_table(blocks) -> pd.DataFrame:
    """The rows of each comparison, ``blocks`` a list of ``(comparison, rows)``, as one table with
    :data:`SENSITIVITY_COLUMNS` and a last column ``treatment`` (``Comparison.name``)."""
    table = sensitivity_table([row for _, rows in blocks for row in rows])
    table["treatment"] = pd.Series([c.name for c, rows in blocks for _ in rows], index=table.index, dtype=object)
    return table


def cached(fit):
    """``fit(key)`` computed once per key: later calls return the same result, or raise the same
    exception (so that one model of all arms serves every comparison)."""
    results = {}

    def get(key):
        if key not in results:
            try:
                results[key] = fit(key)
            except FAILURES as exc:
                results[key] = exc
        if isinstance(results[key], Exception):
            raise results[key]
        return results[key]

    return get
