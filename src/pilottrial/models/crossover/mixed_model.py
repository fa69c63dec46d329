r"""The crossover mixed model: a random participant intercept, fitted by REML.

.. math::
    y_{ip} = \mu + \tau\,[\text{treatment}_{ip} = T] + \pi\,[p = 2] + \gamma\,[\text{sequence}_i = 2]
             + \beta\,\text{baseline}_{ip} + u_i + \varepsilon_{ip},
    \quad u_i \sim N(0, \sigma_u^2),\ \varepsilon_{ip} \sim N(0, \sigma^2),

the sequence and period-baseline terms being optional (``crossover.adjust_sequence``,
``crossover.adjust_period_baseline``). It is fitted by REML with :math:`\sigma_u^2 \ge 0`, as
lme4 (:func:`pilottrial.models.mmrm.fit_random_intercept`, the period as the
within-participant index). The marginal covariance of a participant's two rows is compound
symmetry, :math:`V_i = \sigma_u^2 J + \sigma^2 I`, so the small-sample inference of the MMRM
engine applies: fixed-effect covariance :math:`(X'V^{-1}X)^{-1}` with Satterthwaite degrees of
freedom, or the Kenward-Roger adjusted covariance and df (with :math:`W` from the expected
information, as Kenward & Roger 1997 and R pbkrtest; the observed information, as SAS, on
request). Participants with one period contribute to the between-participant information. A
participant variance estimated at 0 is lme4's singular fit: kept, flagged in
:func:`crossover_models`' ``note``, its Satterthwaite df holding that variance at 0 (as
lmerTest). The treatment effect :math:`\tau` is treatment minus reference.

References
----------
Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed. Wiley.
Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum
likelihood. Biometrics 53:983-997.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pilottrial.models.crossover.settings import crossover_settings
from pilottrial.models.mmrm import MMRMError, MMRMFit, fit_random_intercept
from pilottrial.models.primary import (
    CONTRAST_COLUMNS,  # the contract of contrasts.csv, as the parallel trial's
    MODEL_FAILURES,
)

__all__ = ["crossover_formula", "fit_crossover_lmm", "crossover_contrasts", "crossover_models", "CONTRAST_COLUMNS",
           "MODEL_COLUMNS", "MODEL_NAME"]

#: Value of the ``model`` column of :func:`crossover_contrasts`.
MODEL_NAME = "crossover_lmm"
#: Columns of :func:`crossover_models` (``models.csv`` of a crossover trial).
MODEL_COLUMNS = ["outcome", "model", "formula", "covariance", "df_method", "information", "sigma_u2", "sigma2",
                 "within_correlation", "neg2_reml_loglik", "aic", "n_participants", "n_complete", "n_observations",
                 "note"]

logger = logging.getLogger("pilottrial.models.crossover")

_DF_METHODS = ("satterthwaite", "kenward-roger")


def crossover_formula(config: dict) -> str:
    """``change ~ treatment + period [+ sequence] [+ period_baseline]`` as configured."""
    s = crossover_settings(config)
    formula = "change ~ treatment + period"
    if s["adjust_sequence"]:
        formula += " + sequence"
    if s["adjust_period_baseline"]:
        formula += " + period_baseline"
    return formula


def _model_frame(table: pd.DataFrame, outcome: str, s: dict, formula: str) -> pd.DataFrame:
    frame = table[table["outcome"] == outcome]
    needed = ["change"] + (["period_baseline"] if "period_baseline" in formula else [])
    frame = frame.dropna(subset=needed).copy()
    if frame.empty:
        raise MMRMError(f"{outcome}: no participant has a change from the period baseline")
    frame["treatment"] = pd.Categorical(frame["treatment"], [s["reference"], s["treatment"]])
    frame["period"] = pd.Categorical(frame["period"].astype(str), ["1", "2"])
    frame["sequence"] = pd.Categorical(frame["sequence"], list(s["sequences"]))
    return frame


def fit_crossover_lmm(table: pd.DataFrame, outcome: str, config: dict, df_method: str | None = None,
                      information: str = "expected") -> MMRMFit:
    r"""Random-participant-intercept LMM of one outcome of a 2x2 crossover (REML).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~pilottrial.models.crossover.table.crossover_table` output.
    outcome : str
        Outcome name.
    config : dict
        Trial config (see :func:`~pilottrial.models.crossover.settings.crossover_settings`).
    df_method : {"satterthwaite", "kenward-roger", "kenward-roger-linear"}, optional
        Small-sample method; default ``analysis.df_method`` of the config. The covariance is
        linear in its parameters, so ``kenward-roger-linear`` is ``kenward-roger``.
    information : {"expected", "observed"}, default "expected"
        Kenward-Roger only: :math:`W`, the covariance of the variance-parameter estimates,
        from the inverse *expected* REML information, as Kenward & Roger (1997) and R
        pbkrtest, or from the *observed* information (numerical Hessian of the REML
        likelihood) as SAS PROC MIXED and the MMRM engine. Satterthwaite df always use the
        observed information (as SAS and R lmerTest).

    Returns
    -------
    pilottrial.models.mmrm.MMRMFit
        The engine's results at the REML estimate :math:`(\sigma_u^2, \sigma^2)`
        (``covariance="cs"``, visit = period): ``coefficients``, ``contrast(L)``,
        ``covariance_parameters``, ``neg2_loglik``; ``singular`` (and ``notes``) when
        :math:`\hat\sigma_u^2 = 0`.

    Notes
    -----
    Model in the module docstring. :func:`pilottrial.models.mmrm.fit_random_intercept`
    estimates the variance components by REML with :math:`\sigma_u^2 \ge 0` (the criterion
    profiled in :math:`\sigma_u^2/\sigma^2`, as lme4) and gives :math:`\hat\beta`,
    :math:`\Phi = (X'V^{-1}X)^{-1}` and Satterthwaite (1946) or Kenward-Roger (1997) df,
    with :math:`V_i = \sigma_u^2 J + \sigma^2 I` (SAS ``TYPE=CS`` with parameters ``CS`` =
    :math:`\sigma_u^2` and ``Residual`` = :math:`\sigma^2`; linear in them, so the
    Kenward-Roger adjustment has no second-derivative term, as pbkrtest).

    Raises
    ------
    MMRMError
        When the model cannot be fitted: no participant with a change, every participant
        with one period, a rank-deficient design.
    """
    s = crossover_settings(config)
    df_method = (df_method or s["df_method"]).lower().replace("_", "-")
    df_method = {"kr": "kenward-roger", "kenward-roger-linear": "kenward-roger"}.get(df_method, df_method)
    if df_method not in _DF_METHODS:
        raise MMRMError(f"df_method must be one of {_DF_METHODS}, not {df_method!r}")
    if information not in ("expected", "observed"):
        raise MMRMError(f"information must be 'expected' or 'observed', not {information!r}")
    formula = crossover_formula(config)
    frame = _model_frame(table, outcome, s, formula)
    fit = fit_random_intercept(frame, formula, subject="participant", visit="period", df_method=df_method,
                               label=outcome)
    if df_method == "kenward-roger" and information == "expected":
        # W = 2 E^-1, E the expected Hessian of -2 log REML likelihood, tr(P V_k P V_l)
        fit = fit.with_kenward_roger(information="expected")
    return fit


def _treatment_row(fit, frame, s) -> np.ndarray:
    """Design-row difference treatment minus reference, other terms fixed."""
    rows = frame.iloc[[0, 0]].copy()
    rows["treatment"] = pd.Categorical([s["reference"], s["treatment"]], [s["reference"], s["treatment"]])
    X = fit.design(rows)
    return X[1] - X[0]


def crossover_contrasts(table: pd.DataFrame, config: dict, df_method: str | None = None,
                        information: str = "expected") -> pd.DataFrame:
    r"""Treatment minus reference in a 2x2 crossover, by the random-intercept LMM.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~pilottrial.models.crossover.table.crossover_table` output.
    config : dict
        Trial config (see :func:`~pilottrial.models.crossover.settings.crossover_settings`); ``analysis.alpha`` sets the interval.
    df_method : {"satterthwaite", "kenward-roger"}, optional
        Default ``analysis.df_method``.
    information : {"expected", "observed"}, default "expected"
        Kenward-Roger only; see :func:`fit_crossover_lmm`.

    Returns
    -------
    pandas.DataFrame
        One row per outcome with :data:`CONTRAST_COLUMNS` (the contract of ``contrasts.csv``;
        NaN numbers when the model cannot be estimated, the reason in :func:`crossover_models`):
        ``outcome``, ``model`` (``"crossover_lmm"``), ``visit`` (``crossover.timepoint``),
        ``estimate`` (:math:`\hat\tau`, adjusted mean change on treatment minus on reference),
        ``std_error``, ``df``, ``ci_lower``, ``ci_upper`` (t interval) and ``p_value``
        (two-sided t test of :math:`\tau = 0`).

    Notes
    -----
    Model and inference in :func:`fit_crossover_lmm`:
    :math:`t = \hat\tau / \mathrm{SE}`, interval :math:`\hat\tau \pm t_{1-\alpha/2,\nu}\,\mathrm{SE}`.

    References
    ----------
    Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed., ch. 3 and 5. Wiley.
    Kenward MG, Roger JH (1997). Biometrics 53:983-997.

    Examples
    --------
    >>> from pilottrial.config import load_config
    >>> from pilottrial.data import read_trial_data
    >>> from pilottrial.models.crossover import crossover_table
    >>> config = load_config("config/crossover.yaml")
    >>> table = crossover_table(read_trial_data(config), config)
    >>> crossover_contrasts(table, config).round(2)[["outcome", "model", "visit", "estimate", "std_error", "df"]]
      outcome          model visit  estimate  std_error     df
    0   IES-R  crossover_lmm   24h    -13.23       1.58  37.33
    """
    s = crossover_settings(config)
    rows = []
    for o in s["outcomes"]:
        if o["name"] not in set(table["outcome"]):
            continue
        numbers = ("estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value")
        fit, _ = _fit_or_reason(table, o["name"], config, df_method, information)
        if fit is None:
            result = dict.fromkeys(numbers, np.nan)
        else:
            L = _treatment_row(fit, fit.model_frame, s)
            result = fit.contrast(L[None, :], alpha=s["alpha"]).iloc[0]
        rows.append({"outcome": o["name"], "model": MODEL_NAME, "visit": s["timepoint"],
                     **{k: float(result[k]) for k in numbers}})
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def crossover_models(table: pd.DataFrame, config: dict, df_method: str | None = None,
                     information: str = "expected") -> pd.DataFrame:
    r"""Details of each outcome's crossover LMM (arguments as :func:`crossover_contrasts`).

    Returns
    -------
    pandas.DataFrame
        One row per outcome: ``outcome, model, formula, covariance`` (``cs``), ``df_method``,
        ``information`` (of the Kenward-Roger :math:`W`; ``observed`` for Satterthwaite),
        ``sigma_u2`` (participant variance), ``sigma2`` (residual variance),
        ``within_correlation`` (:math:`\sigma_u^2/(\sigma_u^2+\sigma^2)`), ``neg2_reml_loglik``,
        ``aic``, ``n_participants`` (with at least one period), ``n_complete`` (both periods),
        ``n_observations`` and ``note`` (a singular fit, or why the model is not estimable:
        then its numbers are NaN, as its row of :func:`crossover_contrasts`).
    """
    s = crossover_settings(config)
    rows = []
    for o in s["outcomes"]:
        if o["name"] not in set(table["outcome"]):
            continue
        fit, reason = _fit_or_reason(table, o["name"], config, df_method, information)
        if fit is None:
            rows.append({"outcome": o["name"], "model": MODEL_NAME, "formula": crossover_formula(config),
                         "covariance": "", "df_method": "", "information": "", "note": f"not estimable: {reason}"})
            continue
        sigma_u2, sigma2 = (float(v) for v in fit.phi)
        per = fit.model_frame.groupby("participant", observed=True).size()
        rows.append({"outcome": o["name"], "model": MODEL_NAME, "formula": fit.formula, "covariance": "cs",
                     "df_method": fit.df_method,
                     "information": information if fit.df_method == "kenward-roger" else "observed",
                     "sigma_u2": sigma_u2, "sigma2": sigma2,
                     "within_correlation": sigma_u2 / (sigma_u2 + sigma2),
                     "neg2_reml_loglik": fit.neg2_loglik, "aic": fit.aic,
                     "n_participants": int(per.size), "n_complete": int((per == 2).sum()),
                     "n_observations": fit.n_obs, "note": "; ".join(fit.notes)})
    return pd.DataFrame(rows, columns=MODEL_COLUMNS)


def _fit_or_reason(table, outcome, config, df_method, information):
    """``(fit, None)``, or ``(None, reason)`` when the model cannot be estimated on these data
    (the reason also goes to the log, with the traceback)."""
    try:
        return fit_crossover_lmm(table, outcome, config, df_method=df_method, information=information), None
    except MODEL_FAILURES as exc:
        logger.warning("%s crossover LMM not estimable: %s", outcome, exc, exc_info=True)
        return None, str(exc)
