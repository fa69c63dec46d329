r"""The random-intercept linear mixed model (LMM), with the MMRM engine's small-sample inference.

The LMM has the primary model's fixed effects and a random participant intercept,

.. math::
    y_{ij} = x_{ij}'\beta + u_i + \varepsilon_{ij},\quad u_i \sim N(0, \sigma_u^2),\
    \varepsilon_{ij} \sim N(0, \sigma^2),

fitted by REML with statsmodels ``MixedLM``. Its marginal covariance is compound symmetry,
:math:`V_i = \sigma_u^2 J + \sigma^2 I`, so the MMRM engine evaluated at statsmodels' estimate
(:func:`pilottrial.models.mmrm.mmrm_at`, ``covariance="cs"``) gives the same small-sample
inference as the MMRM: :math:`\Phi = (X'V^{-1}X)^{-1}` and Satterthwaite degrees of freedom in
the parameters :math:`(\sigma_u^2, \sigma^2)`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from pilottrial.models.frame import model_formula, model_frame
from pilottrial.models.mmrm import MMRMError, MMRMFit, mmrm_at

__all__ = ["fit_lmm", "fit_outcome_lmm"]


def fit_lmm(data: pd.DataFrame, formula: str, subject: str, visit: str,
            df_method: str = "satterthwaite", label: str | None = None) -> MMRMFit:
    r"""Fit a random-intercept LMM by REML and return the MMRM engine's results at its estimate.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject x visit, without missing values in the model's columns.
    formula : str
        Fixed effects, e.g. ``"change ~ baseline + arm * visit"``.
    subject, visit : str
        Columns of the subject (the random intercept's groups) and of the visit.
    df_method : {"satterthwaite", "kenward-roger", "kenward-roger-linear", "residual"}
        Small-sample method of the engine (default Satterthwaite).
    label : str, optional
        Names the model in error messages (e.g. the outcome).

    Returns
    -------
    pilottrial.models.mmrm.MMRMFit
        ``covariance="cs"`` results at :math:`\phi = (\sigma_u^2, \sigma^2)` (SAS ``TYPE=CS``:
        ``CS`` and ``Residual``), with ``coefficients``, ``lsmeans`` and ``treatment_contrasts``.

    Raises
    ------
    pilottrial.models.mmrm.MMRMError
        When :math:`\sigma_u^2` is estimated at zero: the LMM is then an independence model and
        its small-sample df are not defined.

    Notes
    -----
    Model in the module docstring. statsmodels tries L-BFGS, BFGS, then Powell; its
    convergence warnings are silenced (the engine checks the estimate: a Hessian of the REML
    likelihood that is not positive definite is an error).

    References
    ----------
    Laird NM, Ware JH (1982). Random-effects models for longitudinal data. Biometrics
    38:963-974.
    Satterthwaite FE (1946). An approximate distribution of estimates of variance components.
    Biometrics Bulletin 2:110-114.

    Examples
    --------
    >>> from pilottrial.models.mmrm.simulate import simulate_trial
    >>> data = simulate_trial(60, seed=3).dropna()
    >>> fit = fit_lmm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")
    >>> fit.structure, [round(float(p), 2) for p in fit.phi]
    ('cs', [5.31, 3.39])
    >>> fit.treatment_contrasts("ARMCD", "PBO", "TRT").round(2)[["visit", "estimate", "std_error"]]
      visit  estimate  std_error
    0  VIS1      0.69       0.77
    1  VIS2      1.75       0.78
    2  VIS3      1.73       0.80
    3  VIS4      2.96       0.81
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = smf.mixedlm(formula, data, groups=data[subject], re_formula="1")
        result = model.fit(reml=True, method=["lbfgs", "bfgs", "powell"])
    sigma_u2 = float(result.cov_re.iloc[0, 0])
    sigma2 = float(result.scale)
    if not np.isfinite(sigma_u2) or sigma_u2 <= 1e-8 * sigma2:
        raise MMRMError(f"{label + ': ' if label else ''}the random-intercept variance is estimated at zero; "
                        f"the LMM reduces to an independence model and its df are not defined")
    return mmrm_at(data, formula, subject=subject, visit=visit, covariance="cs", phi=[sigma_u2, sigma2],
                   method="reml", df_method=df_method)


def fit_outcome_lmm(analysis: pd.DataFrame, outcome: str, config: dict) -> MMRMFit:
    r"""Random-intercept LMM of one outcome (:func:`fit_lmm`, Satterthwaite df).

    The rows and formula are the MMRM's (:func:`pilottrial.models.frame.model_frame`,
    :func:`~pilottrial.models.frame.model_formula`, e.g. ``change ~ baseline + arm * visit``);
    :math:`V_i = \sigma_u^2 J + \sigma^2 I`.

    Examples
    --------
    >>> from pilottrial.config import load_config
    >>> from pilottrial.data import load_trial
    >>> config = load_config("config/config.yaml")
    >>> fit = fit_outcome_lmm(load_trial(config), "CAPS-5", config)
    >>> fit.treatment_contrasts("arm", "midazolam", "ketamine").round(1)[["visit", "estimate", "ci_lower", "ci_upper"]]
      visit  estimate  ci_lower  ci_upper
    0   24h     -12.4     -20.7      -4.1
    1    7d      -7.1     -15.5       1.3
    2   30d     -13.6     -22.2      -4.9
    """
    frame = model_frame(analysis, outcome, config)
    return fit_lmm(frame, model_formula(frame, config), subject="participant", visit="visit",
                   df_method="satterthwaite", label=outcome)
