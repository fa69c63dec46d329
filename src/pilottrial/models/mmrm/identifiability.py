r"""Whether a covariance structure can be estimated from the data, checked before it is fitted.

An optimiser started on a structure the data cannot determine wanders until its iteration
limits: an unstructured 10 x 10 covariance (55 parameters) of 12 participants ran for minutes
before failing. These checks are necessary conditions, cheap (counts and ranks), and each
failing one is a sentence for the reader:

* **parameters vs residual degrees of freedom** -- the :math:`q` covariance parameters of the
  structure (times the number of groups) cannot exceed :math:`n - p`, the number of
  observations less the fixed effects (REML's error contrasts);
* **unstructured vs participants** -- the REML estimate of an unstructured :math:`m \times m`
  covariance is, with complete data and a visit-saturated mean, :math:`E'E/(N - r)` with
  :math:`E` the :math:`N \times m` residuals of :math:`N` participants and :math:`r` the mean
  parameters at one visit (intercept, arm, baseline, covariates): it is singular, and the
  likelihood unbounded, unless :math:`N - r \ge m` (Anderson 2003, sec. 7.2). The check uses
  each group's participants and the largest rank of the group's design at one visit;
* **visits and pairs of visits observed** -- a visit-specific variance (``us``, ``csh``,
  ``ar1h``, ``toeph``, ``adh``) needs at least one residual degree of freedom at that visit;
  a covariance between two visits needs participants observed at both: every pair for
  ``us``, every lag for ``toep``/``toeph``, every pair of adjacent visits for ``ad``/``adh``,
  some pair for the one correlation of ``cs``, ``csh``, ``ar1`` and ``ar1h``.

References
----------
Anderson TW (2003). An Introduction to Multivariate Statistical Analysis, 3rd ed. Wiley.
"""

from __future__ import annotations

import numpy as np

__all__ = ["identifiability_problem", "HETEROGENEOUS"]

#: Structures with one variance per visit.
HETEROGENEOUS = frozenset({"us", "csh", "ar1h", "toeph", "adh"})


def _visit_ranks(X, visit_code, n_visits):
    """Rank of the fixed-effect design restricted to the rows of each visit."""
    ranks = np.zeros(n_visits, dtype=int)
    for v in range(n_visits):
        rows = X[visit_code == v]
        if rows.size:
            ranks[v] = np.linalg.matrix_rank(rows)
    return ranks


def _co_observed(subject_code, visit_code, n_visits):
    """(n_visits x n_visits) numbers of subjects observed at both visits (diagonal: at the visit)."""
    present = np.zeros((int(subject_code.max()) + 1, n_visits))
    present[subject_code, visit_code] = 1.0
    present = present[present.any(axis=1)]
    return (present.T @ present).astype(int), present.shape[0]


def _names(visits, pairs, limit=3):
    text = ", ".join(f"{visits[a]} and {visits[b]}" for a, b in pairs[:limit])
    return text + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def identifiability_problem(structure: str, n_params: int, X: np.ndarray, subject_code, visit_code, group_code,
                            visit_levels: list, groups: list) -> str | None:
    r"""Why ``structure`` cannot be estimated from these data, or None when the checks pass.

    Parameters
    ----------
    structure : str
        Structure name (``us``, ``cs``, ``ar1``, ...).
    n_params : int
        Covariance parameters of the structure for one group.
    X : numpy.ndarray
        Fixed-effect design (rows of the model frame).
    subject_code, visit_code, group_code : numpy.ndarray
        Integer codes of each row's subject, visit (index into ``visit_levels``) and group.
    visit_levels, groups : list
        Visit labels in order; group labels (``[None]`` without groups).

    Returns
    -------
    str or None
        A sentence naming the shortfall (see the module docstring for the conditions).

    Examples
    --------
    Eleven participants, ten visits, a mean by arm and visit (two mean parameters at each visit):

    >>> import numpy as np
    >>> subjects = np.repeat(np.arange(11), 10)
    >>> visits = np.tile(np.arange(10), 11)
    >>> arm = (subjects % 2).astype(float)
    >>> X = np.column_stack([np.ones(110), arm] + [visits == v for v in range(1, 10)]).astype(float)
    >>> identifiability_problem("us", 55, X, subjects, visits, np.zeros(110, int), list(range(10)), [None])
    'an unstructured covariance of 10 visits (55 parameters) needs at least 12 participants (10 visits + 2 mean parameters per visit); the data have 11'
    >>> identifiability_problem("ar1", 2, X, subjects, visits, np.zeros(110, int), list(range(10)), [None]) is None
    True
    """
    n_obs, p = X.shape
    m = len(visit_levels)
    q = n_params * len(groups)
    if q > n_obs - p:
        return (f"{q} covariance parameters exceed the {n_obs - p} residual degrees of freedom "
                f"({n_obs} observations - {p} fixed effects)")
    for g, label in enumerate(groups):
        rows = group_code == g
        where = f" in group {label}" if label is not None else ""
        counts, n_subjects = _co_observed(subject_code[rows], visit_code[rows], m)
        ranks = _visit_ranks(X[rows], visit_code[rows], m)
        if structure == "us":
            r = int(ranks.max())
            if n_subjects - r < m:
                return (f"an unstructured covariance of {m} visits ({m * (m + 1) // 2} parameters) needs at least "
                        f"{m + r} participants{where} ({m} visits + {r} mean parameters per visit); "
                        f"the data have {n_subjects}")
        if structure in HETEROGENEOUS:
            short = [visit_levels[v] for v in range(m) if counts[v, v] <= ranks[v]]
            if short:
                return (f"too few participants{where} at visit {', '.join(map(str, short[:3]))} to estimate "
                        f"its own variance")
        if m < 2:
            if n_params > 1:
                return "one visit: a correlation between visits is not defined"
            continue
        upper = [(a, b) for a in range(m) for b in range(a + 1, m)]
        unseen = [(a, b) for a, b in upper if counts[a, b] == 0]
        if structure == "us" and unseen:
            return (f"visits {_names(visit_levels, unseen)} are never observed in the same participant{where}: "
                    f"their covariance cannot be estimated")
        if structure in ("toep", "toeph"):
            lags = {b - a for a, b in upper if counts[a, b] > 0}
            missing = [lag for lag in range(1, m) if lag not in lags]
            if missing:
                return (f"no participant{where} is observed at two visits {missing[0]} apart: "
                        f"the Toeplitz correlation at that lag cannot be estimated")
        if structure in ("ad", "adh"):
            gaps = [(a, a + 1) for a in range(m - 1) if counts[a, a + 1] == 0]
            if gaps:
                return (f"visits {_names(visit_levels, gaps)} are never observed in the same participant{where}: "
                        f"the ante-dependence correlation between them cannot be estimated")
        if len(unseen) == len(upper):
            return f"no participant{where} is observed at two visits: a correlation cannot be estimated"
    return None
