"""Sensitivity analysis 5: Mann-Whitney test and Hodges-Lehmann shift of change at each visit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import pair_rows
from pilottrial.analyses.nonparametric import hodges_lehmann
from pilottrial.analyses.sensitivity.rows import (
    arm_comparisons,
    comparison_table,
    per_visit,
    prepare,
    sensitivity_table,
)

__all__ = ["mann_whitney"]


def mann_whitney(frame: pd.DataFrame, reference: str, treatment, *, visits=None, alpha: float = 0.05,
                 outcome: str | None = None, comparisons=None) -> pd.DataFrame:
    r"""Mann-Whitney (Wilcoxon rank-sum) test of change at each visit, with the Hodges-Lehmann shift.

    Parameters
    ----------
    frame, reference, treatment, visits, alpha, outcome
        As :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.
    comparisons : sequence of Comparison, optional
        Three or more arms (``treatment`` a list): the pairs to compare (default each
        treatment with ``reference``).

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS`, one row per visit;
        ``model`` is ``"hodges_lehmann"``, ``analysis`` ``"mann_whitney"``; ``std_error`` and
        ``df`` are NaN (no such quantities for a rank method); ``note`` gives U, the sample
        sizes and the attained coverage of the interval. Three or more arms: the two-arm
        rows of each comparison, on the participants of its two arms only (a rank test of a
        pair), with a last column ``treatment``.

    Notes
    -----
    ``scipy.stats.mannwhitneyu(treatment, reference, alternative="two-sided")`` with scipy's
    defaults (exact for small samples without ties, else the normal approximation with tie and
    continuity corrections) on the participants observed at the visit; the estimate and
    interval are the Hodges-Lehmann shift of treatment minus reference, the median of the
    pairwise differences :math:`x_i - y_j`, and its distribution-free interval
    (:func:`pilottrial.analyses.nonparametric.hodges_lehmann`) at level ``1 - alpha``.

    No baseline adjustment; the shift model :math:`F_T(x) = F_R(x - \Delta)` is the one under
    which :math:`\Delta` is the difference in location.

    References
    ----------
    Mann HB, Whitney DR (1947). On a test of whether one of two random variables is
    stochastically larger than the other. Ann Math Stat 18:50-60.
    Hodges JL, Lehmann EL (1963). Ann Math Stat 34:598-611.
    Hollander M, Wolfe DA (1999). Nonparametric Statistical Methods, 2nd ed. Wiley, ch. 4.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "participant": [f"P{i}" for i in range(8)], "visit": "week8",
    ...     "arm": ["placebo"] * 4 + ["drug"] * 4, "baseline": 30.0,
    ...     "change": [-4, -6, -2, -7, -10, -12, -8, -14]})
    >>> row = mann_whitney(frame, "placebo", "drug").iloc[0]
    >>> print(row["estimate"], row["ci_lower"], row["ci_upper"], round(row["p_value"], 4))
    -6.0 -12.0 -1.0 0.0286
    """
    arms, comparisons = arm_comparisons(reference, treatment, comparisons)
    if arms is not None:  # a pairwise method: each comparison on its two arms' rows
        rows = frame[frame["arm"].astype(str).isin([str(a) for a in arms])]
        return comparison_table([(c, mann_whitney(pair_rows(rows, c), c.reference, c.treatment, visits=visits,
                                                  alpha=alpha, outcome=outcome).to_dict("records"))
                                 for c in comparisons])
    frame, visits, outcome = prepare(frame, reference, treatment, visits, outcome)

    def estimate_at(visit):
        at = frame[frame["visit"] == visit]
        treated = at.loc[at["arm"] == treatment, "change"].to_numpy(float)
        control = at.loc[at["arm"] == reference, "change"].to_numpy(float)
        if treated.size == 0 or control.size == 0:
            raise ValueError(f"one arm has no observation at {visit}")
        test = stats.mannwhitneyu(treated, control, alternative="two-sided")
        hl = hodges_lehmann(treated, control, alpha=alpha)
        tied = np.unique(np.r_[treated, control]).size < treated.size + control.size
        ties = " (tied values: coverage approximate)" if tied else ""
        return {"estimate": hl["estimate"], "ci_lower": hl["ci_lower"], "ci_upper": hl["ci_upper"],
                "p_value": test.pvalue,
                "note": f"U = {test.statistic:g}, n = {treated.size} vs {control.size}; Hodges-Lehmann "
                        f"shift, order-statistic interval of attained coverage {hl['coverage']:.4f}{ties}"}

    return sensitivity_table(per_visit(outcome, "mann_whitney", "hodges_lehmann", frame, visits, estimate_at))
