r"""The random-intercept linear mixed model (LMM), fitted by REML in the MMRM engine.

The LMM has the primary model's fixed effects and a random participant intercept,

.. math::
    y_{ij} = x_{ij}'\beta + u_i + \varepsilon_{ij},\quad u_i \sim N(0, \sigma_u^2),\
    \varepsilon_{ij} \sim N(0, \sigma^2),\qquad \sigma_u^2 \ge 0,

fitted by REML with the participant variance constrained at :math:`\ge 0`, as lme4
(:func:`pilottrial.models.mmrm.fit_random_intercept`: the REML criterion profiled in
:math:`\gamma = \sigma_u^2/\sigma^2`). Its marginal covariance is compound symmetry,
:math:`V_i = \sigma_u^2 J + \sigma^2 I`, so the results are the MMRM engine's at
:math:`(\sigma_u^2, \sigma^2)` (``covariance="cs"``): :math:`\Phi = (X'V^{-1}X)^{-1}` and
Satterthwaite degrees of freedom, as lmerTest. A participant variance estimated at 0 is lme4's
*singular fit*: the fit is kept, flagged (``fit.singular``, ``fit.notes``), and its df hold
that variance at 0.
"""

from __future__ import annotations

import pandas as pd

from pilottrial.models.frame import model_formula, model_frame
from pilottrial.models.mmrm import MMRMFit, fit_random_intercept

__all__ = ["fit_lmm", "fit_outcome_lmm"]


def fit_lmm(data: pd.DataFrame, formula: str, subject: str, visit: str,
            df_method: str = "satterthwaite", label: str | None = None) -> MMRMFit:
    r"""Fit a random-intercept LMM by REML (:math:`\sigma_u^2 \ge 0`) with the engine's inference.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject x visit; rows missing a model column are dropped.
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
        ``CS`` and ``Residual``), with ``coefficients``, ``lsmeans`` and ``treatment_contrasts``;
        ``singular`` and ``notes`` say when :math:`\hat\sigma_u^2 = 0`.

    Raises
    ------
    pilottrial.models.mmrm.MMRMError
        When the data cannot determine the model (every participant with one observation, no
        residual degrees of freedom, a rank-deficient design).

    Notes
    -----
    Model in the module docstring; method in :mod:`pilottrial.models.mmrm.random_intercept`.
    Validated against lme4/lmerTest on the demo (tests/models/test_primary_r_parity.py) and on
    simulated trials of 10 to 10,000 participants (tests/models/test_lmm_lme4.py).

    References
    ----------
    Laird NM, Ware JH (1982). Random-effects models for longitudinal data. Biometrics
    38:963-974.
    Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using
    lme4. J Stat Softw 67(1):1-48.
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
    return fit_random_intercept(data, formula, subject=subject, visit=visit, df_method=df_method, label=label)


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
