r"""Adjustment of several arm comparisons at one visit: Dunnett (multivariate t), Holm, none.

With three or more arms each outcome x visit x model has several comparisons (each treatment
minus the reference; with ``all_pairs`` also the treatments among themselves). Their estimates
:math:`\hat\theta = L\hat\beta` have covariance :math:`L\Phi L'` and correlation :math:`R`.
:func:`adjust_comparisons` adds simultaneous inference across them (``analysis.arm_adjustment``):

* ``dunnett`` -- the multivariate t of Dunnett (1955) and Hothorn, Bretz & Westfall (2008), as
  emmeans ``adjust = "mvt"``: the adjusted p-value of comparison *j* is
  :math:`1 - P(\max_i |T_i| \le |t_j|)` and its interval
  :math:`\hat\theta_j \pm c_j\,\mathrm{SE}_j` with :math:`P(\max_i |T_i| \le c_j) = 1 - \alpha`,
  where :math:`T \sim t_m(\nu_j, R)`. The degrees of freedom are each comparison's own
  (Satterthwaite or Kenward-Roger) df rounded as emmeans does (``.fix.df``:
  :math:`\lfloor \max(1, \nu_j) + 0.25 \rfloor`; above 9999 or infinite, the multivariate
  normal), so when the comparisons' df differ each has its own reference distribution;
* ``holm`` -- Holm (1979) step-down p-values and Bonferroni intervals
  :math:`\hat\theta_j \pm t_{1-\alpha/(2m),\nu_j}\,\mathrm{SE}_j` (emmeans ``adjust = "holm"``
  gives these intervals, Holm having none);
* ``none`` -- the unadjusted intervals and p-values.

The multivariate t probabilities of a rectangle are computed by the separation-of-variables
integral of Genz (1992) and Genz & Bretz (2002), as ``mvtnorm::pmvt``: a pivoted Cholesky
factor of :math:`R` (singular :math:`R` allowed: the comparisons of ``all_pairs`` are linearly
dependent, their extra rows become bounds on the earlier variables), the chi scale
:math:`\sqrt{\chi^2_\nu/\nu}` as the first variable, integrated by a scrambled Sobol' rule of
:data:`QMC_POINTS` points with a fixed seed. The same points are used for every bound, so the
probability is a smooth increasing function of the bound, the critical value is found by
Brent's method, and the results are reproducible. The integration error is about
:math:`10^{-5}` (``mvtnorm``'s default absolute error is :math:`10^{-3}`).

References
----------
Dunnett CW (1955). A multiple comparison procedure for comparing several treatments with a
control. J Am Stat Assoc 50:1096-1121.
Genz A (1992). Numerical computation of multivariate normal probabilities. J Comput Graph Stat
1:141-149.
Genz A, Bretz F (2002). Comparison of methods for the computation of multivariate t
probabilities. J Comput Graph Stat 11:950-971.
Hothorn T, Bretz F, Westfall P (2008). Simultaneous inference in general parametric models.
Biom J 50:346-363.
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["ADJUSTMENTS", "QMC_POINTS", "adjust_comparisons", "holm", "emmeans_df",
           "mvt_max_probability", "dunnett_p_values", "dunnett_critical_values"]

#: The values of ``analysis.arm_adjustment``.
ADJUSTMENTS = ("dunnett", "holm", "none")
#: Points of the quasi-Monte Carlo rule (a power of two, for the Sobol' sequence).
QMC_POINTS = 2**16
_SEED = 20261212
_TOL = 1e-10


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries are left out of the family).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def emmeans_df(df) -> np.ndarray:
    """Degrees of freedom of the multivariate t as emmeans passes them to mvtnorm:
    ``floor(max(1, df) + 0.25)``, and ``inf`` (the normal) above 9999.

    Examples
    --------
    >>> emmeans_df([23.7, 23.8, 0.4, 12000.0]).tolist()
    [23.0, 24.0, 1.0, inf]
    """
    df = np.atleast_1d(np.asarray(df, dtype=float))
    return np.where(np.isinf(df) | (df > 9999), np.inf, np.floor(np.maximum(1.0, df) + 0.25))


def _factor(corr: np.ndarray):
    """Pivoted Cholesky factor of a correlation matrix: ``(order, C, rank)`` with
    ``corr[order][:, order] = C C'``, C lower trapezoidal (m x rank)."""
    a = np.array(corr, dtype=float)
    m = a.shape[0]
    order = np.arange(m)
    C = np.zeros((m, m))
    rank = 0
    for k in range(m):
        resid = np.diag(a)[k:] - np.sum(C[k:, :k] ** 2, axis=1)
        j = k + int(np.argmax(resid))
        if resid[j - k] <= _TOL:
            break
        a[[k, j]] = a[[j, k]]
        a[:, [k, j]] = a[:, [j, k]]
        C[[k, j]] = C[[j, k]]
        order[[k, j]] = order[[j, k]]
        C[k, k] = np.sqrt(resid[j - k])
        C[k + 1:, k] = (a[k + 1:, k] - C[k + 1:, :k] @ C[k, :k]) / C[k, k]
        rank += 1
    return order, C[:, :rank], rank


class _Rule:
    """The fixed quasi-Monte Carlo points of one correlation matrix and df."""

    def __init__(self, corr, df: float):
        from scipy.stats import qmc  # here: only three or more arms need the integration

        self.order, self.C, self.rank = _factor(corr)
        self.df = float(df)
        dims = self.rank - 1 + (0 if np.isinf(self.df) else 1)
        if dims > 0:
            u = qmc.Sobol(dims, scramble=True, seed=_SEED).random(QMC_POINTS)
            u = np.clip(u, 1e-15, 1 - 1e-15)
        else:
            u = np.full((1, 0), 0.5)
        self.scale = np.ones(len(u)) if np.isinf(self.df) else np.sqrt(special.chdtri(self.df, 1.0 - u[:, 0]) / self.df)
        self.u = u if np.isinf(self.df) else u[:, 1:]
        # rows constraining each variable: the pivot row and the dependent rows whose last
        # non-zero coefficient is in that column
        last = [int(np.flatnonzero(np.abs(row) > 1e-8)[-1]) for row in self.C]
        self.rows = [[i for i in range(len(last)) if last[i] == k] for k in range(self.rank)]

    def probability(self, bound: float) -> float:
        """P(max |T_i| <= bound)."""
        n = len(self.scale)
        y = np.zeros((n, self.rank))
        weight = np.ones(n)
        hi_all = bound * self.scale
        for k in range(self.rank):
            lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
            for i in self.rows[k]:
                shift = y[:, :k] @ self.C[i, :k]
                coef = self.C[i, k]
                a, b = (-hi_all - shift) / coef, (hi_all - shift) / coef
                if coef < 0:
                    a, b = b, a
                lo, hi = np.maximum(lo, a), np.minimum(hi, b)
            d, e = special.ndtr(lo), special.ndtr(hi)
            width = np.clip(e - d, 0.0, None)
            weight = weight * width
            if k < self.rank - 1:
                y[:, k] = special.ndtri(np.clip(d + self.u[:, k] * width, 1e-300, 1 - 1e-16))
        return float(np.mean(weight))


def mvt_max_probability(bound: float, corr, df: float) -> float:
    r""":math:`P(\max_i |T_i| \le \text{bound})` for :math:`T \sim t_m(\nu, R)` (``df=inf``: normal).

    Examples
    --------
    Two independent comparisons: :math:`(2F(c) - 1)^2`.

    >>> c = 2.0
    >>> round(mvt_max_probability(c, [[1, 0], [0, 1]], float("inf")), 6)
    0.91107
    >>> from scipy import stats
    >>> round(float(2 * stats.norm.cdf(c) - 1) ** 2, 6)
    0.91107
    """
    from scipy import stats

    corr = np.atleast_2d(np.asarray(corr, dtype=float))
    if corr.shape[0] == 1:
        dist = stats.norm if np.isinf(df) else stats.t(df)
        return float(2 * dist.cdf(bound) - 1)
    return _Rule(corr, df).probability(bound)


def dunnett_p_values(t_values, corr, df) -> np.ndarray:
    """Single-step adjusted p-values :math:`1 - P(\\max_i |T_i| \\le |t_j|)`, with
    :math:`T \\sim t_m(\\nu_j, R)` and :math:`\\nu_j` = :func:`emmeans_df` of comparison *j*.

    Examples
    --------
    One comparison: the unadjusted two-sided t p-value.

    >>> round(float(dunnett_p_values([2.1], [[1.0]], [20.0])[0]), 6)
    0.048618
    """
    t = np.atleast_1d(np.asarray(t_values, dtype=float))
    nus = emmeans_df(df) * np.ones(t.size)
    rules: dict[float, _Rule] = {}
    out = np.empty(t.size)
    for j, (tj, nu) in enumerate(zip(t, nus, strict=True)):
        if t.size == 1:
            out[j] = 1.0 - mvt_max_probability(abs(tj), corr, nu)
            continue
        rule = rules.setdefault(nu, _Rule(corr, nu))
        out[j] = 1.0 - rule.probability(abs(tj))
    return np.clip(out, 0.0, 1.0)


def dunnett_critical_values(corr, df, alpha: float = 0.05) -> np.ndarray:
    r"""Two-sided simultaneous critical values :math:`c_j`: :math:`P(\max_i |T_i| \le c_j) = 1 -
    \alpha`, :math:`T \sim t_m(\nu_j, R)` (emmeans ``adjust = "mvt"``, mvtnorm ``qmvt``).

    Examples
    --------
    Two comparisons with a shared control and equal arms (correlation 1/2), normal limit: the
    Dunnett constant 2.212.

    >>> round(float(dunnett_critical_values([[1, 0.5], [0.5, 1]], [float("inf")] * 2)[0]), 3)
    2.212
    """
    from scipy import optimize, stats

    corr = np.atleast_2d(np.asarray(corr, dtype=float))
    m = corr.shape[0]
    nus = emmeans_df(df) * np.ones(m)
    out = np.empty(m)
    cache: dict[float, float] = {}
    for j, nu in enumerate(nus):
        if nu not in cache:
            dist = stats.norm if np.isinf(nu) else stats.t(nu)
            lo, hi = dist.ppf(1 - alpha / 2), dist.ppf(1 - alpha / (2 * m))
            if m == 1:
                cache[nu] = lo
            else:
                rule = _Rule(corr, nu)
                cache[nu] = optimize.brentq(lambda c, r=rule: r.probability(c) - (1.0 - alpha),
                                            lo - 1e-6, hi + 1e-3, xtol=1e-10)
        out[j] = cache[nu]
    return out


def adjust_comparisons(estimate, std_error, df, cov, method: str, alpha: float = 0.05):
    r"""Adjusted intervals and p-values of the comparisons at one outcome x visit x model.

    Parameters
    ----------
    estimate, std_error, df : array_like
        The comparisons' estimates, standard errors and (Satterthwaite or Kenward-Roger) df.
    cov : array_like
        Covariance of the estimates, :math:`L\Phi L'` (its correlation is used by ``dunnett``).
    method : {"dunnett", "holm", "none"}
        ``analysis.arm_adjustment`` (see the module docstring).
    alpha : float
        Familywise level; intervals are :math:`100(1-\alpha)\%`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        ``ci_lower_adjusted, ci_upper_adjusted, p_value_adjusted``. Comparisons that are not
        estimable (NaN) get NaN and leave the family.

    Examples
    --------
    >>> lo, hi, p = adjust_comparisons([-3.0, -8.0], [3.0, 3.0], [30.0, 30.0],
    ...                                [[9.0, 4.5], [4.5, 9.0]], "holm")
    >>> np.round(p, 4).tolist()
    [0.3253, 0.0244]
    """
    est, se, df = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (estimate, std_error, df))
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    if method not in ADJUSTMENTS:
        raise ValueError(f"unknown arm adjustment {method!r}; use one of {ADJUSTMENTS}")
    lower, upper, p_adj = (np.full(est.size, np.nan) for _ in range(3))
    ok = np.flatnonzero(np.isfinite(est) & np.isfinite(se) & (se > 0) & np.isfinite(df))
    if ok.size == 0:
        return lower, upper, p_adj
    e, s, d = est[ok], se[ok], df[ok]
    t = e / s
    # scipy.stats.t.sf and .ppf are these scipy.special functions; a two-arm trial imports no scipy.stats
    p_raw = 2 * special.stdtr(d, -np.abs(t))
    m = ok.size
    if method == "none" or m == 1:
        crit, p = special.stdtrit(d, 1 - alpha / 2), p_raw
    elif method == "holm":
        crit, p = special.stdtrit(d, 1 - alpha / (2 * m)), holm(p_raw)
    else:
        sub = cov[np.ix_(ok, ok)]
        sd = np.sqrt(np.diag(sub))
        corr = sub / np.outer(sd, sd)
        crit, p = dunnett_critical_values(corr, d, alpha), dunnett_p_values(t, corr, d)
    lower[ok], upper[ok], p_adj[ok] = e - crit * s, e + crit * s, p
    return lower, upper, p_adj
