"""How much is missing: observed and missing scores by visit, and dropout by arm.

:func:`missingness_table` (by outcome x arm x visit) and :func:`dropout_table` (last visit
observed, monotone or intermittent, by outcome x arm); :func:`missing_data` stacks both in one
long table with a ``table`` column (``missing_data.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.analyses.common import as_trial

__all__ = ["MISSINGNESS_COLUMNS", "DROPOUT_COLUMNS", "MISSING_DATA_COLUMNS", "missingness_table", "dropout_table",
           "missing_data"]

MISSINGNESS_COLUMNS = ["outcome", "arm", "visit", "n_randomized", "n_observed", "n_missing", "pct_missing"]
DROPOUT_COLUMNS = ["outcome", "arm", "visit", "n_randomized", "n_last_observed", "n_monotone",
                   "n_intermittent", "pct_last_observed"]
MISSING_DATA_COLUMNS = ["table", "outcome", "arm", "visit", "n_randomized", "n_observed", "n_missing",
                        "pct_missing", "n_last_observed", "n_monotone", "n_intermittent", "pct_last_observed"]


def _order(table: pd.DataFrame, trial, columns=("outcome", "arm", "visit")) -> pd.DataFrame:
    orders = {"outcome": list(trial.outcome_names), "arm": list(trial.arms), "visit": list(trial.visit_order)}
    keys = [pd.Categorical(table[c], categories=orders[c]).codes for c in columns]
    return table.iloc[np.lexsort(keys[::-1])].reset_index(drop=True)


def _measured_visits(analysis: pd.DataFrame) -> pd.DataFrame:
    """(outcome, visit) pairs at which the outcome has at least one score: the visits it is
    scheduled at (an imaging outcome may be measured at baseline and 30d only)."""
    scored = analysis[analysis["score"].notna()][["outcome", "visit"]].drop_duplicates()
    return scored.reset_index(drop=True)


def missingness_table(analysis: pd.DataFrame, config) -> pd.DataFrame:
    r"""Observed and missing scores by outcome x arm x visit.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The tidy analysis table of :func:`pilottrial.data.load_trial`.
    config : dict or Trial
        The validated config (outcome, arm and visit order).

    Returns
    -------
    pandas.DataFrame
        :data:`MISSINGNESS_COLUMNS`: ``outcome, arm, visit, n_randomized, n_observed,
        n_missing, pct_missing``, one row per outcome x arm x visit of ``visits.order``
        (baseline included), sorted in config order. ``pct_missing = 100 n_missing /
        n_randomized``; every randomized participant counts (the analysis table has a row for
        every participant x visit). Visits at which an outcome has no score in either arm are
        taken as not scheduled for it and left out.
    """
    trial = as_trial(config)
    grouped = analysis.groupby(["outcome", "arm", "visit"], observed=True)["score"]
    table = pd.DataFrame({"n_randomized": grouped.size(), "n_observed": grouped.count()}).reset_index()
    table = table.merge(_measured_visits(analysis), on=["outcome", "visit"])
    table["n_missing"] = table["n_randomized"] - table["n_observed"]
    table["pct_missing"] = 100.0 * table["n_missing"] / table["n_randomized"]
    for col in ("n_randomized", "n_observed", "n_missing"):
        table[col] = table[col].astype(int)
    return _order(table, trial)[MISSINGNESS_COLUMNS]


def _wide_observed(analysis: pd.DataFrame, outcome: str, visits: list) -> pd.DataFrame:
    """participant x visit boolean table of observed changes (columns in ``visits`` order)."""
    rows = analysis[analysis["outcome"] == outcome]
    wide = rows.pivot(index="participant", columns="visit", values="change")
    return wide.reindex(columns=visits).notna()


def dropout_table(analysis: pd.DataFrame, config) -> pd.DataFrame:
    r"""Dropout time (last visit observed) and monotone / intermittent missingness by arm.

    For each participant and outcome the *last observed visit* is the last post-baseline
    visit with a score (``visits.baseline`` if there is none). The pattern is *monotone* if
    the participant was observed at every post-baseline visit up to the last observed one,
    *intermittent* (non-monotone) if at least one earlier visit is missing. Completers are
    the monotone participants whose last observed visit is the final visit. Only the visits
    an outcome is scheduled at count (those with a score for someone): an outcome measured at
    baseline and 30d only has rows for those two.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The tidy analysis table of :func:`pilottrial.data.load_trial`.
    config : dict or Trial
        The validated config.

    Returns
    -------
    pandas.DataFrame
        :data:`DROPOUT_COLUMNS`: one row per outcome x arm x scheduled visit (the last
        observed visit, baseline included): ``n_randomized`` (arm size), ``n_last_observed``
        (participants whose last observed visit it is), of whom ``n_monotone`` and
        ``n_intermittent``, and ``pct_last_observed = 100 n_last_observed / n_randomized``.
    """
    trial = as_trial(config)
    measured = _measured_visits(analysis)
    rows = []
    for outcome in trial.outcome_names:
        scheduled = set(measured.loc[measured["outcome"] == outcome, "visit"])
        visits = [v for v in trial.visit_order if v in scheduled or v == trial.baseline]
        post = visits[1:]
        wide = _wide_observed(analysis, outcome, post)
        observed = wide.to_numpy(dtype=bool)
        arm_of = analysis[analysis["outcome"] == outcome].drop_duplicates("participant").set_index(
            "participant")["arm"]
        arms = arm_of.reindex(wide.index).to_numpy()
        position = np.arange(1, len(post) + 1)
        last = np.max(np.where(observed, position, 0), axis=1, initial=0)  # 0 = baseline only
        gaps = ((~observed) & (position[None, :] < last[:, None])).any(axis=1)
        for arm in trial.arms:
            in_arm = arms == arm
            for k, visit in enumerate(visits):
                here = in_arm & (last == k)
                rows.append({"outcome": outcome, "arm": arm, "visit": visit,
                             "n_randomized": int(in_arm.sum()), "n_last_observed": int(here.sum()),
                             "n_monotone": int((here & ~gaps).sum()),
                             "n_intermittent": int((here & gaps).sum())})
    table = pd.DataFrame(rows, columns=DROPOUT_COLUMNS[:-1])
    table["pct_last_observed"] = 100.0 * table["n_last_observed"] / table["n_randomized"]
    return table[DROPOUT_COLUMNS]


def missing_data(analysis: pd.DataFrame, config) -> pd.DataFrame:
    """:func:`missingness_table` and :func:`dropout_table` stacked for ``missing_data.csv``.

    Returns
    -------
    pandas.DataFrame
        :data:`MISSING_DATA_COLUMNS`; ``table`` is ``"missingness"`` or ``"dropout"``,
        columns that do not apply to a table are empty (counts are nullable integers). In the
        dropout rows ``visit`` is the last observed visit.

    Examples
    --------
    >>> import pandas as pd
    >>> analysis = pd.DataFrame({
    ...     "participant": ["a", "a", "b", "b"], "arm": ["drug", "drug", "placebo", "placebo"],
    ...     "visit": ["week0", "week4"] * 2, "outcome": "HAM-D", "baseline": [20.0] * 4,
    ...     "score": [20.0, 12.0, 20.0, None], "change": [0.0, -8.0, 0.0, None]})
    >>> config = {"arms": {"reference": "placebo", "treatment": "drug"},
    ...           "visits": {"baseline": "week0", "order": ["week0", "week4"]}, "outcomes": [{"name": "HAM-D"}]}
    >>> table = missing_data(analysis, config)
    >>> table[table["table"] == "missingness"][["arm", "visit", "n_missing"]]
           arm  visit  n_missing
    0  placebo  week0          0
    1  placebo  week4          1
    2     drug  week0          0
    3     drug  week4          0
    """
    trial = as_trial(config)
    parts = [missingness_table(analysis, trial).assign(table="missingness"),
             dropout_table(analysis, trial).assign(table="dropout")]
    table = pd.concat(parts, ignore_index=True).reindex(columns=MISSING_DATA_COLUMNS)
    for col in ("n_randomized", "n_observed", "n_missing", "n_last_observed", "n_monotone", "n_intermittent"):
        table[col] = table[col].astype("Int64")
    return table
