r"""Mechanism outcomes: does the change in a putative mechanism go with the change in symptoms?

For every outcome with ``role: mechanism`` in the config (e.g. an fMRI region-of-interest
estimate measured at baseline and 30 days), :func:`mechanism_table` correlates its change from
baseline with the change in the primary outcome at the same post-baseline visit, within each
arm and over both arms, by Pearson's r and Spearman's rho with Fisher-z intervals.

In a pilot these correlations are descriptive: with 10-15 participants per arm the intervals
are wide, and a correlation within an arm says nothing causal about mediation. The pooled
(``arm == "all"``) correlation also carries the difference between the arms: when the
treatment moves both changes, it can be strong although neither within-arm correlation is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import as_trial, not_estimable, with_note

__all__ = ["MECHANISM_COLUMNS", "OVERALL", "correlation_interval", "correlation_row", "mechanism_table"]

#: Columns of :func:`mechanism_table`.
MECHANISM_COLUMNS = [
    "mechanism_outcome", "primary_outcome", "visit", "arm", "n", "pearson_r", "pearson_ci_lower",
    "pearson_ci_upper", "pearson_p", "spearman_rho", "spearman_ci_lower", "spearman_ci_upper", "spearman_p",
]
#: Arm label of the correlation over both arms.
OVERALL = "all"


def correlation_interval(r: float, n: int, alpha: float = 0.05, method: str = "pearson") -> tuple[float, float]:
    r"""Fisher-z confidence interval of a correlation coefficient.

    Parameters
    ----------
    r : float
        Pearson's r or Spearman's rho.
    n : int
        Number of pairs (at least 4).
    alpha : float, default 0.05
        Two-sided level.
    method : {"pearson", "spearman"}
        Variance of :math:`z = \operatorname{artanh}(r)`.

    Returns
    -------
    tuple of float
        ``(lower, upper)``; NaN when ``n < 4`` or ``r`` is NaN; ``(r, r)`` when
        :math:`|r| = 1`.

    Notes
    -----
    .. math::

        \tanh\left(\operatorname{artanh}(r) \pm z_{1-\alpha/2} \sqrt{v}\right),\qquad
        v = \frac{1}{n - 3}\ \text{(Pearson)},\quad
        v = \frac{1 + \rho^2 / 2}{n - 3}\ \text{(Spearman, Bonett and Wright 2000)}.

    The Pearson interval is the one of ``pingouin.corr``.

    References
    ----------
    Fisher RA. On the "probable error" of a coefficient of correlation deduced from a small
    sample. Metron 1921;1:3-32. Bonett DG, Wright TA. Sample size requirements for
    estimating Pearson, Kendall and Spearman correlations. Psychometrika 2000;65:23-28.

    Examples
    --------
    >>> [round(limit, 4) for limit in correlation_interval(0.5, 20)]
    [0.0738, 0.7718]
    """
    if n < 4 or not np.isfinite(r):
        return (np.nan, np.nan)
    if abs(r) >= 1:
        return (float(r), float(r))
    if method == "pearson":
        variance = 1.0 / (n - 3)
    elif method == "spearman":
        variance = (1.0 + r**2 / 2.0) / (n - 3)
    else:
        raise ValueError(f"method must be 'pearson' or 'spearman', not {method!r}")
    z = np.arctanh(r)
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(variance)
    return (float(np.tanh(z - half)), float(np.tanh(z + half)))


def _constant(values: np.ndarray) -> bool:
    """No spread beyond rounding: the range is at most 1e-9 of the largest absolute value (a
    change computed as score - baseline that is the same for everyone may differ in the last bits)."""
    return bool(np.ptp(values) <= 1e-9 * np.max(np.abs(values))) if values.size else True


def correlation_row(x, y, alpha: float = 0.05) -> dict:
    r"""Pearson and Spearman correlation of paired values, with intervals and p-values.

    Parameters
    ----------
    x, y : array_like
        Paired values; pairs with a missing value are dropped.
    alpha : float, default 0.05
        Two-sided level.

    Returns
    -------
    dict
        ``n``, ``pearson_r``, ``pearson_ci_lower``, ``pearson_ci_upper``, ``pearson_p``,
        ``spearman_rho``, ``spearman_ci_lower``, ``spearman_ci_upper``, ``spearman_p``.
        Coefficients are NaN with fewer than 3 pairs or a constant variable (its range at
        most 1e-9 of its largest absolute value: rounding); intervals with fewer than 4 pairs.

    Notes
    -----
    p-values test a zero correlation: Pearson's by the exact t test with n - 2 df
    (``scipy.stats.pearsonr``), Spearman's by the t approximation
    :math:`t = \rho \sqrt{(n-2)/(1-\rho^2)}` (``scipy.stats.spearmanr``); intervals from
    :func:`correlation_interval`.

    References
    ----------
    Bonett DG, Wright TA. Sample size requirements for estimating Pearson, Kendall and
    Spearman correlations. Psychometrika 2000;65:23-28.

    Examples
    --------
    >>> row = correlation_row([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    >>> row["n"], round(row["pearson_r"], 4), round(row["spearman_rho"], 4), round(row["pearson_p"], 4)
    (6, 0.8286, 0.8286, 0.0416)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(x.size)
    out = {"n": n}
    nan = {k: np.nan for k in MECHANISM_COLUMNS[5:]}
    if n < 3 or _constant(x) or _constant(y):
        return out | nan
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    r, rho = float(pearson.statistic), float(spearman.statistic)
    p_lo, p_hi = correlation_interval(r, n, alpha, "pearson")
    s_lo, s_hi = correlation_interval(rho, n, alpha, "spearman")
    return out | {
        "pearson_r": r, "pearson_ci_lower": p_lo, "pearson_ci_upper": p_hi, "pearson_p": float(pearson.pvalue),
        "spearman_rho": rho, "spearman_ci_lower": s_lo, "spearman_ci_upper": s_hi,
        "spearman_p": float(spearman.pvalue),
    }


def mechanism_table(analysis: pd.DataFrame, config) -> pd.DataFrame:
    r"""Correlation of each mechanism outcome's change with the primary outcome's change.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table (``participant, arm, visit, outcome, baseline, score, change``).
    config : dict or Trial
        Validated config; outcomes with ``role: mechanism`` are the mechanism outcomes.

    Returns
    -------
    pandas.DataFrame
        :data:`MECHANISM_COLUMNS`, one row per mechanism outcome x post-baseline visit at
        which it was measured x arm (every arm in ``Trial.arms`` order -- the reference, then
        the treatment(s) -- and ``"all"``), in config and visit order. ``n`` counts participants
        with both changes at that visit. Empty (with these columns) when no outcome has the
        mechanism role. Correlations that cannot be
        estimated (fewer than 3 pairs, a change that does not vary) are NaN, and a mechanism
        outcome without any post-baseline change has one row (``arm`` "all", no visit); a
        ``note`` column, added last when there are such rows, says "not estimable: <reason>".

    Notes
    -----
    For participant *i* at visit *v*, :math:`\Delta M_{iv}` and :math:`\Delta Y_{iv}` are the
    changes from baseline of the mechanism and the primary outcome (column ``change``); the
    table gives Pearson's r and Spearman's rho of the pairs, with the Fisher-z intervals of
    :func:`correlation_interval` (for rho with the Bonett-Wright variance). Correlations of
    changes are attenuated by the measurement error of both; regression to the mean of both
    measures can induce a correlation of its own.

    References
    ----------
    Bonett DG, Wright TA. Sample size requirements for estimating Pearson, Kendall and
    Spearman correlations. Psychometrika 2000;65:23-28.
    """
    trial = as_trial(config)
    alpha, arms = trial.alpha, trial.arms
    order = list(trial.visit_order)
    baseline = order[0] if trial.baseline is None else trial.baseline
    primary = trial.primary.name
    mechanisms = [o.name for o in trial.mechanism_outcomes]
    rows, notes = [], []
    changes = analysis[analysis["visit"] != baseline]
    primary_change = changes[changes["outcome"] == primary].set_index(["participant", "visit"])["change"]
    for m in mechanisms:
        own = changes[(changes["outcome"] == m) & changes["change"].notna()]
        visits = [v for v in order if v in set(own["visit"])]
        if not visits:  # baseline only: one row says why
            rows.append({"mechanism_outcome": m, "primary_outcome": primary, "visit": "", "arm": OVERALL, "n": 0}
                        | {k: np.nan for k in MECHANISM_COLUMNS[5:]})
            notes.append(not_estimable(f"{m} has no change from baseline at any post-baseline visit"))
            continue
        for v in visits:
            at = own[own["visit"] == v].set_index("participant")
            paired = pd.DataFrame({
                "arm": at["arm"],
                "mechanism": at["change"],
                "primary": [primary_change.get((p, v), np.nan) for p in at.index],
            })
            for arm in (*arms, OVERALL):
                subset = paired if arm == OVERALL else paired[paired["arm"] == arm]
                row = correlation_row(subset["mechanism"], subset["primary"], alpha)
                rows.append({"mechanism_outcome": m, "primary_outcome": primary, "visit": v, "arm": arm} | row)
                notes.append(_why_not(row, subset, m, primary))
    table = pd.DataFrame(rows, columns=MECHANISM_COLUMNS)
    return with_note(table.astype({"n": "int64"}), notes)


def _why_not(row: dict, pairs: pd.DataFrame, mechanism: str, primary: str) -> str:
    """The note of a row of :func:`mechanism_table`: "" when the correlations were estimated."""
    if np.isfinite(row["pearson_r"]):
        return ""
    if row["n"] < 3:
        return not_estimable(f"{row['n']} participant(s) with both changes; at least 3 are needed")
    complete = pairs.dropna(subset=["mechanism", "primary"])
    constant = [name for name, column in ((mechanism, "mechanism"), (primary, "primary"))
                if _constant(complete[column].to_numpy(dtype=float))]
    if not constant:
        return not_estimable("the correlation is undefined")
    return not_estimable(f"the change in {' and '.join(constant)} is the same for every participant")
