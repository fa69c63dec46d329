r"""Analytic power and sample size at the tested visit: Lu, Luo & Chen (2008) and the t test.

References
----------
Lu K, Luo X, Chen P-Y (2008). Sample size estimation for repeated measures analysis in
randomized clinical trials with missing data. Int J Biostat 4(1):9.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from pilottrial.planning.settings import PowerPlan

__all__ = ["lu_variance_factor", "analytic_power", "analytic_sample_size"]


def lu_variance_factor(sigma, retention, visit: int) -> float:
    r"""Per-participant variance of one arm's MMRM mean at ``visit`` under monotone dropout.

    .. math::
        n\,\operatorname{Var}(\hat\mu_v) = \sigma_v^2 \sum_{k=1}^{v}
        \frac{\rho^2_{k} - \rho^2_{k-1}}{r_k},

    :math:`r_k` the probability of being observed at visit ``k``, :math:`\rho^2_k` the squared
    multiple correlation of :math:`Y_v` on :math:`Y_1..Y_k` (:math:`\rho^2_0 = 0`,
    :math:`\rho^2_v = 1`): the inverse of the Fisher information of the unstructured model
    (Lu, Luo & Chen 2008, who write it with their inflation factor :math:`\phi = 1/\cdot`).
    """
    sigma = np.asarray(sigma, dtype=float)
    r = np.asarray(retention, dtype=float)
    s_vv = sigma[visit, visit]
    rho2 = [0.0]
    for k in range(visit + 1):
        block = sigma[: k + 1, : k + 1]
        cross = sigma[: k + 1, visit]
        rho2.append(float(cross @ np.linalg.solve(block, cross)) / s_vv)
    rho2[-1] = 1.0
    with np.errstate(divide="ignore"):
        return float(s_vv * sum((rho2[k + 1] - rho2[k]) / r[k] for k in range(visit + 1)))


def analytic_power(plan: PowerPlan, n_per_arm, effect: float, method: str) -> np.ndarray:
    r"""Approximate power of the two-sided test of the treatment difference at the tested visit.

    Parameters
    ----------
    plan : PowerPlan
        The covariance ``sigma`` of the change across visits, the dropout ``hazard`` per arm
        (hence the retention :math:`r_{a,k}`), the tested ``visit`` and ``alpha``.
    n_per_arm : int or array of int
        Participants randomized per arm.
    effect : float
        Treatment minus reference difference :math:`\Delta` at the tested visit.
    method : {"analytic_mmrm", "analytic_t"}
        ``analytic_mmrm``: the MMRM with monotone dropout (Lu, Luo & Chen 2008);
        ``analytic_t``: the ANCOVA / t test of the expected completers.

    Returns
    -------
    numpy.ndarray
        The power at each ``n_per_arm``.

    Notes
    -----
    ``analytic_mmrm``: :math:`\Phi(|\Delta|/se - z_{1-\alpha/2}) + \Phi(-|\Delta|/se -
    z_{1-\alpha/2})` with :math:`se^2 = (v_0 + v_1)/n` and :math:`v_a` the
    :func:`lu_variance_factor` of arm *a* (normal approximation, as Lu et al.).
    ``analytic_t``: noncentral t for the ANCOVA of the expected completers :math:`n_a = n r_{a,v}`
    at the visit, residual SD :math:`\sqrt{\Sigma_{vv}}`, df :math:`n_0 + n_1 - 3`,
    noncentrality :math:`|\Delta| / (\Sigma_{vv}^{1/2} \sqrt{1/n_0 + 1/n_1})`.

    References
    ----------
    Lu K, Luo X, Chen P-Y (2008). Sample size estimation for repeated measures analysis in
    randomized clinical trials with missing data. Int J Biostat 4(1):9.

    Examples
    --------
    >>> from pilottrial.planning import example_plan
    >>> plan = example_plan(n_visits=4, hazard=0.05)  # SD 3.5 at the last visit, 86% retained
    >>> analytic_power(plan, [20, 50, 100], effect=-2.0, method="analytic_mmrm").round(3)
    array([0.405, 0.776, 0.97 ])
    >>> analytic_power(plan, [20, 50, 100], effect=-2.0, method="analytic_t").round(3)
    array([0.368, 0.744, 0.961])
    >>> analytic_sample_size(plan, -2.0, 0.8, "analytic_mmrm"), analytic_sample_size(plan, -2.0, 0.8, "analytic_t")
    (54, 58)
    """
    n = np.asarray(n_per_arm, dtype=float)
    v = plan.visit_index
    sigma = np.asarray(plan.sigma, dtype=float)
    retention = plan.retention
    alpha = plan.alpha
    if method == "analytic_mmrm":
        factor = sum(lu_variance_factor(sigma, retention[a], v) for a in (0, 1))
        z = stats.norm.ppf(1 - alpha / 2)
        shift = abs(effect) / np.sqrt(factor / n)
        return stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z)
    if method == "analytic_t":
        n0, n1 = n * retention[0, v], n * retention[1, v]
        df = np.maximum(n0 + n1 - 3.0, 1.0)
        se = np.sqrt(sigma[v, v] * (1.0 / n0 + 1.0 / n1))
        crit = stats.t.ppf(1 - alpha / 2, df)
        nc = abs(effect) / se
        return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
    raise ValueError(f"method must be analytic_mmrm or analytic_t, not {method!r}")


def analytic_sample_size(plan: PowerPlan, effect: float, target: float, method: str,
                         n_max: int = 1_000_000):
    """Smallest whole n per arm whose :func:`analytic_power` reaches ``target`` (None if
    ``effect`` is 0 or it needs more than ``n_max``)."""
    if effect == 0 or analytic_power(plan, n_max, effect, method) < target:
        return None
    low, high = 1, 2  # power(low) < target <= power(high)
    while analytic_power(plan, high, effect, method) < target:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if analytic_power(plan, mid, effect, method) >= target:
            high = mid
        else:
            low = mid
    return high
