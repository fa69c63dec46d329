r"""The random-intercept linear mixed model fitted by REML in the MMRM engine, variance >= 0.

.. math::
    y_{ij} = x_{ij}'\beta + u_i + \varepsilon_{ij},\quad u_i \sim N(0, \sigma_u^2),\
    \varepsilon_{ij} \sim N(0, \sigma^2),\qquad \sigma_u^2 \ge 0 .

The marginal covariance of subject *i*'s :math:`n_i` rows is compound symmetry,
:math:`V_i = \sigma^2(I + \gamma J)` with :math:`\gamma = \sigma_u^2/\sigma^2 \ge 0`. As lme4
does (Bates et al. 2015), :math:`\sigma^2` and :math:`\beta` are profiled out and the REML
criterion is minimised over the one ratio :math:`\gamma` on :math:`[0, \infty)`:

.. math::
    -2\ell_R(\gamma) = (n - p)\Big\{1 + \log\frac{2\pi Q(\gamma)}{n - p}\Big\}
    + \sum_i \log(1 + n_i\gamma) + \log|A(\gamma)|,

with :math:`A(\gamma) = X'V_0^{-1}X`, :math:`Q(\gamma) = \min_\beta (y - X\beta)'V_0^{-1}(y - X\beta)`,
:math:`V_0 = V/\sigma^2` and :math:`\hat\sigma^2 = Q/(n - p)`. Writing
:math:`V_{0i}^{-1} = (I - J/n_i) + v_i J/n_i` with :math:`v_i = 1/(1 + n_i\gamma)` splits every
quantity into a within-subject part, fixed, and a between-subject part weighted by :math:`v_i`;
one QR decomposition of the stacked, weighted rows gives :math:`A`, :math:`\hat\beta` and
:math:`Q` without cancellation, in :math:`O(N p^2)` for :math:`N` subjects. The derivative is

.. math::
    \frac{d(-2\ell_R)}{d\gamma} = (n - p)\frac{Q'}{Q} + \sum_i n_i v_i
    + \sum_i v_i' \, s_i'A^{-1}s_i,\qquad Q' = \sum_i v_i'(t_i - s_i'\hat\beta)^2,
    \quad v_i' = -n_i v_i^2,

with :math:`s_i = X_i'1/\sqrt{n_i}` and :math:`t_i = y_i'1/\sqrt{n_i}`. A grid over
:math:`\gamma` brackets the minimum, which is then found as the root of the derivative; when
the derivative is non-negative at :math:`\gamma = 0` the estimate is on the boundary,
:math:`\hat\sigma_u^2 = 0` (lme4's *singular fit*): the model is then one of independent
residuals, and its small-sample inference holds :math:`\sigma_u^2` at 0 (as lmerTest, whose
variance parameter :math:`\theta = \sigma_u/\sigma` enters the covariance as :math:`\theta^2`).

The estimate :math:`\phi = (\sigma_u^2, \sigma^2)` is the MMRM engine's ``cs`` structure (SAS
``TYPE=CS``: ``CS`` and ``Residual``), so the results are an
:class:`~pilottrial.models.mmrm.MMRMFit` with :math:`\Phi = (X'V^{-1}X)^{-1}` and
Satterthwaite (or Kenward-Roger) degrees of freedom.

References
----------
Laird NM, Ware JH (1982). Random-effects models for longitudinal data. Biometrics 38:963-974.
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using
lme4. J Stat Softw 67(1):1-48.
Kuznetsova A, Brockhoff PB, Christensen RHB (2017). lmerTest package: tests in linear mixed
effects models. J Stat Softw 82(13):1-26.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg, optimize

from pilottrial.models.mmrm.design import ModelData
from pilottrial.models.mmrm.fit import build_fit, check_methods
from pilottrial.models.mmrm.likelihood import one_blas_thread
from pilottrial.models.mmrm.results import MMRMError, MMRMFit
from pilottrial.models.mmrm.structures import CovarianceModel, get_structure

__all__ = ["fit_random_intercept", "RandomInterceptProfile", "SINGULAR_NOTE"]

#: The note of a fit whose participant variance is estimated at 0.
SINGULAR_NOTE = ("singular fit: the participant variance is estimated at 0 (the boundary, as lme4 reports a "
                 "singular fit); the model reduces to independent residuals and its df hold that variance at 0 "
                 "(as lmerTest)")

_GRID = np.concatenate([[0.0], np.logspace(-6, 6, 49)])  # gamma = sigma_u^2 / sigma^2


class RandomInterceptProfile:
    r"""The profiled REML criterion of the random-intercept model and its derivative in
    :math:`\gamma = \sigma_u^2/\sigma^2` (formulas in the module docstring).

    Parameters
    ----------
    X : numpy.ndarray
        Fixed-effect design (``n x p``, full column rank).
    y : numpy.ndarray
        Response.
    subject : numpy.ndarray
        Integer subject code of each row (``0 .. N-1``, every code present).
    """

    def __init__(self, X, y, subject):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        subject = np.asarray(subject)
        self.n_obs, self.p = X.shape
        self.counts = np.bincount(subject).astype(float)
        if np.any(self.counts == 0):
            raise ValueError("subject codes must be 0 .. N-1, each with at least one row")
        rows = np.column_stack([X, y])
        sums = np.zeros((self.counts.size, self.p + 1))
        np.add.at(sums, subject, rows)
        within = rows - (sums / self.counts[:, None])[subject]
        # the within-subject part, fixed: R factor of (I - J/n_i)[X y]; the between part: [s_i t_i]
        self.r_within = linalg.qr(within, mode="r")[0][:self.p + 1]
        self.between = sums / np.sqrt(self.counts)[:, None]

    def _factor(self, gamma):
        v = 1.0 / (1.0 + self.counts * gamma)
        stacked = np.vstack([self.r_within, np.sqrt(v)[:, None] * self.between])
        R = linalg.qr(stacked, mode="r", check_finite=False)[0][:self.p + 1]
        return v, R

    def criterion(self, gamma: float) -> tuple[float, float, np.ndarray]:
        """``(-2 log REML likelihood, sigma^2, beta)`` at ``gamma`` (sigma^2 and beta profiled)."""
        v, R = self._factor(gamma)
        q = float(R[self.p, self.p] ** 2)
        dof = self.n_obs - self.p
        if q <= 0:
            raise MMRMError("the residual variance is estimated at zero: the outcome is fitted exactly")
        logdet_a = 2.0 * float(np.sum(np.log(np.abs(np.diag(R)[:self.p]))))
        value = dof * (1.0 + np.log(2.0 * np.pi * q / dof)) - float(np.sum(np.log(v))) + logdet_a
        beta = linalg.solve_triangular(R[:self.p, :self.p], R[:self.p, self.p])
        return value, q / dof, beta

    def derivative(self, gamma: float) -> float:
        r""":math:`d(-2\ell_R)/d\gamma` at ``gamma``."""
        v, R = self._factor(gamma)
        q = float(R[self.p, self.p] ** 2)
        dv = -self.counts * v**2
        beta = linalg.solve_triangular(R[:self.p, :self.p], R[:self.p, self.p])
        resid = self.between[:, self.p] - self.between[:, :self.p] @ beta
        z = linalg.solve_triangular(R[:self.p, :self.p], self.between[:, :self.p].T, trans="T")
        leverage = np.einsum("ij,ij->j", z, z)
        return ((self.n_obs - self.p) * float(dv @ resid**2) / q + float(self.counts @ v)
                + float(dv @ leverage))

    def minimise(self) -> float:
        r"""The REML estimate of :math:`\gamma \ge 0` (0 when the derivative there is :math:`\ge 0`
        and 0 is the best point of the grid)."""
        values = np.array([self.criterion(g)[0] for g in _GRID])
        k = int(np.argmin(values))
        if k == len(_GRID) - 1:
            raise MMRMError("the within-participant variance is estimated at zero (the participant variance "
                            "dominates without bound): a random intercept cannot be fitted")
        if k == 0 and self.derivative(0.0) >= 0:
            return 0.0
        low, high = _GRID[max(k - 1, 0)], _GRID[k + 1]
        d_low, d_high = self.derivative(low), self.derivative(high)
        if d_low < 0 < d_high:
            gamma = optimize.brentq(self.derivative, low, high, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                                    maxiter=200)
        else:  # the derivative does not change sign on the bracket: minimise the criterion there
            result = optimize.minimize_scalar(lambda g: self.criterion(g)[0], bounds=(low, high), method="bounded",
                                              options={"xatol": 1e-12 * max(high, 1e-12)})
            gamma = float(result.x)
        if gamma > 0 and self.criterion(0.0)[0] <= self.criterion(gamma)[0]:
            return 0.0
        return float(gamma)


def fit_random_intercept(data: pd.DataFrame, formula: str, subject: str, visit: str,
                         df_method: str = "satterthwaite", visit_levels=None, label: str | None = None) -> MMRMFit:
    r"""Fit the random-intercept LMM by REML with :math:`\sigma_u^2 \ge 0` (model and method in
    the module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject x visit; rows missing a model column are dropped.
    formula : str
        Fixed effects, e.g. ``"change ~ baseline + arm * visit"``.
    subject : str
        Column of the subject (the random intercept's groups).
    visit : str
        Column indexing a subject's rows (visit, period); it only labels the rows.
    df_method : {"satterthwaite", "kenward-roger", "kenward-roger-linear", "residual"}
        Small-sample method of the engine.
    visit_levels : list, optional
        Order of the visits (default from ``data[visit]``).
    label : str, optional
        Names the model in error messages (e.g. the outcome).

    Returns
    -------
    pilottrial.models.mmrm.MMRMFit
        ``structure="cs"``, ``phi = [sigma_u^2, sigma^2]`` (``CS``, ``Residual``),
        ``optimizer="profile REML"``; at :math:`\hat\sigma_u^2 = 0`, ``singular`` is True,
        ``boundary == (0,)`` and ``notes`` holds :data:`SINGULAR_NOTE`.

    Raises
    ------
    pilottrial.models.mmrm.MMRMError
        When the data cannot determine the model: every subject has one row (the intercept's
        variance is confounded with the residual's), no residual degrees of freedom, a
        rank-deficient design, or a residual variance estimated at zero.

    Examples
    --------
    >>> from pilottrial.models.mmrm.simulate import simulate_trial
    >>> data = simulate_trial(60, seed=3).dropna()
    >>> fit = fit_random_intercept(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")
    >>> fit.structure, fit.singular, [round(float(p), 2) for p in fit.phi]
    ('cs', False, [5.31, 3.39])
    """
    prefix = f"{label}: " if label else ""
    method, df_method = check_methods("reml", df_method)
    with one_blas_thread():
        model = ModelData(data, formula, subject, visit, None, visit_levels)
        counts = np.bincount(model.subject_code)
        if counts.max() < 2:
            raise MMRMError(f"{prefix}every participant has one observation: a random intercept is not "
                            f"identified (its variance cannot be told from the residual variance)")
        if model.n_obs - model.X.shape[1] < 1:
            raise MMRMError(f"{prefix}no residual degrees of freedom ({model.n_obs} observations, "
                            f"{model.X.shape[1]} fixed effects)")
        profile = RandomInterceptProfile(model.X, model.y, model.subject_code)
        try:
            gamma = profile.minimise()
        except MMRMError as exc:
            raise MMRMError(f"{prefix}{exc}") from None
        sigma2 = profile.criterion(gamma)[1]
        phi = np.array([gamma * sigma2, sigma2])
        spec = CovarianceModel(get_structure("cs"), len(model.visit_levels), 1)
        boundary = (0,) if gamma == 0.0 else ()
        fit = build_fit(model, spec, phi, method, df_method, "profile REML", [], boundary)
    if fit is None:
        raise MMRMError(f"{prefix}the REML likelihood of the random-intercept model is flat at its optimum "
                        f"(Hessian not positive definite): the variances are not identified by these data")
    if boundary:
        fit.notes = [SINGULAR_NOTE]
    return fit
