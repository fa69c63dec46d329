"""Multiplicity: Holm adjustment of the secondary efficacy outcomes at each key visit.

The primary outcome is tested at the nominal level and is never adjusted. The secondary
efficacy outcomes (``role: efficacy``, not primary) form one family per key visit, and their
MMRM p-values are adjusted by Holm's step-down procedure within that family. Mechanism
outcomes (``role: mechanism``) are exploratory and belong to no family.

Three or more arms: the families are formed within each comparison (each treatment minus the
reference, or each pair): Holm across the secondary outcomes at a key visit of one comparison,
on the comparison's unadjusted p-values. The adjustment across the comparisons of one outcome
and visit (Dunnett, Holm or none, ``analysis.arm_adjustment``) is that of the primary
contrasts (``p_value_adjusted`` of ``contrasts.csv``); the two are not combined.
:func:`comparison_contrasts` and :func:`stack_comparisons` are the helpers of every secondary
analysis that reads ``contrasts.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from pilottrial.analyses.common import as_trial, not_estimable, reason_of, with_comparison, with_note
from pilottrial.models.primary import CONTRAST_COLUMNS

__all__ = ["adjust_contrasts", "holm", "ADJUSTED_COLUMNS", "comparison_contrasts", "stack_comparisons",
           "per_comparison", "ARM_ADJUSTED_COLUMNS"]

ADJUSTED_COLUMNS = CONTRAST_COLUMNS + ["p_adjusted", "adjustment"]
#: Columns of ``contrasts.csv`` of a trial with three or more arms after ``treatment``.
ARM_ADJUSTED_COLUMNS = ["ci_lower_adjusted", "ci_upper_adjusted", "p_value_adjusted"]


def comparison_contrasts(contrasts: pd.DataFrame, comparison) -> pd.DataFrame:
    """The rows of a three-or-more-arm contrast table (``contrasts.csv``) of one comparison, as a
    two-arm contrast table: the rows whose ``treatment`` is ``comparison.name``, without the
    ``treatment`` and the arm-adjusted columns.

    Raises
    ------
    ValueError
        When the table has no ``treatment`` column (a contrast table of a two-arm trial).

    Examples
    --------
    >>> from pilottrial.config import Comparison
    >>> table = pd.DataFrame({"outcome": "A", "estimate": [-1.0, -2.0], "treatment": ["low", "high"],
    ...                       "p_value_adjusted": [0.2, 0.1]})
    >>> comparison_contrasts(table, Comparison("high", "placebo", "high"))
      outcome  estimate
    1       A      -2.0
    """
    if "treatment" not in contrasts.columns:
        raise ValueError("the contrast table has no 'treatment' column but the trial has three or more arms; "
                         "pass the contrasts.csv of this trial (primary_contrasts of the same config)")
    rows = contrasts[contrasts["treatment"].astype(str) == str(comparison.name)]
    return rows.drop(columns=["treatment"] + [c for c in ARM_ADJUSTED_COLUMNS if c in rows.columns])


def stack_comparisons(tables: list) -> pd.DataFrame:
    """The tables of the comparisons (each ending with ``treatment``) one under the other, with
    ``treatment`` last: a ``note`` column that only some of them have comes before it, "" in the
    rows of the others."""
    table = pd.concat(tables, ignore_index=True)
    if "note" in table.columns:
        table["note"] = table["note"].fillna("")
    return table[[c for c in table.columns if c != "treatment"] + ["treatment"]]


def per_comparison(trial, contrasts: pd.DataFrame, build) -> pd.DataFrame:
    """``build(pair_trial, pair_contrasts)`` for each comparison of a trial with three or more arms
    (:meth:`~pilottrial.config.Trial.pair` and :func:`comparison_contrasts`), stacked in
    ``trial.comparisons`` order with the ``treatment`` column (:func:`stack_comparisons`)."""
    return stack_comparisons([with_comparison(build(trial.pair(c), comparison_contrasts(contrasts, c)), trial, c)
                              for c in trial.comparisons])


def holm(p_values) -> np.ndarray:
    r"""Holm's step-down adjustment of a family of p-values.

    Parameters
    ----------
    p_values : array_like
        The p-values of one family; NaN (a test that could not be done) is left out of the
        family and stays NaN.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the order given, at most 1.

    Notes
    -----
    With the :math:`m` p-values ordered :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math::

        \tilde p_{(i)} = \min\Bigl\{1, \max_{j \le i} (m - j + 1)\, p_{(j)}\Bigr\},

    computed by ``statsmodels.stats.multitest.multipletests(method="holm")``; it controls the
    family-wise error rate in the strong sense whatever the dependence between the tests.

    References
    ----------
    Holm S. A simple sequentially rejective multiple test procedure. *Scand J Stat*
    1979;6:65-70.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, float("nan")]).round(2).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p_values = np.asarray(p_values, dtype=float)
    adjusted = p_values.copy()
    tested = ~np.isnan(p_values)
    if tested.any():
        adjusted[tested] = multipletests(p_values[tested], method="holm")[1]
    return np.minimum(adjusted, 1.0)


def adjust_contrasts(contrasts: pd.DataFrame, config) -> pd.DataFrame:
    """MMRM contrasts at the key visits with multiplicity-adjusted p-values.

    Parameters
    ----------
    contrasts : pandas.DataFrame
        Treatment contrasts with :data:`pilottrial.models.primary.CONTRAST_COLUMNS`, as returned by
        :func:`pilottrial.models.primary.primary_contrasts`. Rows of other models (``lmm``) and of
        visits not in ``visits.key`` are dropped.
    config : dict or Trial
        Validated trial config; uses ``outcomes[].primary``, ``outcomes[].role``,
        ``visits.key`` and ``analysis.multiplicity`` (``holm`` or ``none``).
        With three or more arms, ``contrasts`` has a ``treatment`` column (``contrasts.csv``).

    Returns
    -------
    pandas.DataFrame
        One row per outcome x key visit (outcomes in config order, visits in key order) with
        the contrast columns plus

        * ``p_adjusted`` -- the p-value to read against ``analysis.alpha``;
        * ``adjustment`` -- ``"none (primary)"`` for the primary outcome;
          ``"Holm across secondary outcomes at <visit>"`` for a secondary efficacy outcome;
          ``"none"`` for secondary outcomes when ``analysis.multiplicity`` is ``none``;
          ``"none (mechanism outcome, exploratory)"`` for mechanism outcomes.

        Unadjusted rows have ``p_adjusted == p_value``. A contrast without a p-value stays
        in the table with NaN, out of the Holm family; an outcome with no MMRM contrast at
        any key visit (e.g. no follow-up) has rows of NaN at the key visits; a ``note``
        column, added last when there are such rows, says "not estimable: <reason>".

        Three or more arms: these rows for each comparison (``trial.comparisons`` order), the
        Holm families formed within the comparison, and a last column ``treatment``
        (``Comparison.name``).

    Notes
    -----
    Holm (1979) within each family (:func:`holm`), which controls the family-wise error rate
    in the strong sense without assumptions on the dependence between outcomes. A missing
    p-value (a contrast that could not be estimated) is left out of the family and stays
    missing.

    References
    ----------
    Holm S. A simple sequentially rejective multiple test procedure. *Scand J Stat*
    1979;6:65-70.

    Examples
    --------
    >>> import pandas as pd
    >>> config = {"visits": {"key": ["30d"]}, "analysis": {"multiplicity": "holm"},
    ...           "outcomes": [{"name": "A", "primary": True, "role": "efficacy"},
    ...                        {"name": "B", "primary": False, "role": "efficacy"},
    ...                        {"name": "C", "primary": False, "role": "efficacy"}]}
    >>> contrasts = pd.DataFrame({"outcome": ["A", "B", "C"], "model": "mmrm", "visit": "30d",
    ...                           "estimate": -5.0, "std_error": 2.0, "df": 20.0, "ci_lower": -9.0,
    ...                           "ci_upper": -1.0, "p_value": [0.02, 0.01, 0.04]})
    >>> adjust_contrasts(contrasts, config)[["outcome", "p_adjusted"]]
      outcome  p_adjusted
    0       A        0.02
    1       B        0.02
    2       C        0.04
    """
    missing = [c for c in CONTRAST_COLUMNS if c not in contrasts.columns]
    if missing:
        raise ValueError(f"contrasts lack the columns {missing}; pass the table of primary_contrasts()")
    trial = as_trial(config)
    if trial.is_multi_arm:  # Holm within each comparison
        return per_comparison(trial, contrasts, lambda pair, rows: adjust_contrasts(rows, pair))
    key_visits = list(trial.key_visits)
    outcomes = {o.name: o for o in trial.outcomes}
    order = list(outcomes)
    method = trial.section("analysis").get("multiplicity", "holm")

    table = contrasts[(contrasts["model"] == "mmrm") & contrasts["visit"].isin(key_visits)
                      & contrasts["outcome"].isin(order)].copy()
    # an outcome with no MMRM contrast at any key visit (no follow-up, a model that did not fit)
    # keeps rows that say why
    absent = [o for o in order if not table["outcome"].eq(o).any()]
    if absent:
        empty = pd.DataFrame([{c: np.nan for c in CONTRAST_COLUMNS} | {"outcome": o, "model": "mmrm", "visit": v,
                               "note": not_estimable(f"no MMRM contrast of {o} at {v}")}
                              for o in absent for v in key_visits])
        table = pd.concat([table, empty], ignore_index=True) if len(table) else empty
    table["_outcome_order"] = table["outcome"].map(order.index)
    table["_visit_order"] = table["visit"].map(key_visits.index)
    table = table.sort_values(["_outcome_order", "_visit_order"]).drop(columns=["_outcome_order", "_visit_order"])
    table = table.reset_index(drop=True)
    given = table["note"] if "note" in table.columns else pd.Series("", index=table.index)
    notes = [("" if pd.notna(p) else not_estimable(reason_of(g) or f"the MMRM contrast of {o} at {v} has no p-value"))
             for p, g, o, v in zip(table["p_value"].astype(float), given, table["outcome"], table["visit"])]
    table = table[CONTRAST_COLUMNS].astype({c: float for c in CONTRAST_COLUMNS[3:]})

    table["p_adjusted"] = table["p_value"].astype(float)
    table["adjustment"] = ""
    is_primary = table["outcome"].map(lambda o: outcomes[o].primary)
    is_mechanism = table["outcome"].map(lambda o: outcomes[o].is_mechanism)
    secondary = ~is_primary & ~is_mechanism
    table.loc[is_primary, "adjustment"] = "none (primary)"
    table.loc[is_mechanism & ~is_primary, "adjustment"] = "none (mechanism outcome, exploratory)"
    if method == "none":
        table.loc[secondary, "adjustment"] = "none"
        return with_note(table[ADJUSTED_COLUMNS], notes)
    for visit in key_visits:
        family = secondary & (table["visit"] == visit)
        table.loc[family, "adjustment"] = f"Holm across secondary outcomes at {visit}"
        if family.any():
            table.loc[family, "p_adjusted"] = holm(table.loc[family, "p_value"])
    table["p_adjusted"] = table["p_adjusted"].astype(float).clip(upper=1.0)
    table.loc[table["p_value"].isna(), "p_adjusted"] = np.nan
    return with_note(table[ADJUSTED_COLUMNS], notes)
