r"""The primary analysis of a pilot trial: descriptives and treatment contrasts per outcome.

For each outcome, over the post-baseline visits:

* **MMRM** (:func:`fit_outcome_mmrm`) -- change ~ baseline + arm * visit, residual covariance
  across visits within participant (unstructured by default), REML, fixed-effect covariance
  :math:`(X'V^{-1}X)^{-1}`, Satterthwaite (or Kenward-Roger) degrees of freedom;
* **LMM** (:func:`pilottrial.models.lmm.fit_outcome_lmm`) -- the same fixed effects with a random
  participant intercept; its marginal covariance is compound symmetry, so the same small-sample
  inference applies.

Contrasts are treatment minus reference differences in adjusted mean change at each visit,
with t-based confidence intervals; no z-based inference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.models.frame import FORMULA, model_formula, model_frame
from pilottrial.models.lmm import fit_outcome_lmm
from pilottrial.models.mmrm import MMRMFit, fit_mmrm

__all__ = ["descriptives", "model_frame", "model_formula", "fit_outcome_mmrm", "fit_outcome_lmm", "primary_contrasts",
           "CONTRAST_COLUMNS", "FORMULA"]

#: Columns of the contrasts table (the contract of ``contrasts.csv``).
CONTRAST_COLUMNS = ["outcome", "model", "visit", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                    "p_value"]


def descriptives(analysis: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Scores by outcome x arm x visit: n, mean, SD, median, quartiles, n missing, and the
    mean (SD) change from baseline at post-baseline visits."""
    trial = Trial.from_config(config)
    grouped = analysis.groupby(["outcome", "arm", "visit"], observed=True)
    table = grouped["score"].agg(
        n="count", mean="mean", sd="std", median="median",
        q1=lambda s: s.quantile(0.25), q3=lambda s: s.quantile(0.75),
        n_missing=lambda s: int(s.isna().sum()),
    )
    change = grouped["change"].agg(change_mean="mean", change_sd="std")
    table = table.join(change).reset_index()
    table.loc[table["visit"] == trial.baseline, ["change_mean", "change_sd"]] = np.nan
    for col, order in (("outcome", trial.outcome_names), ("arm", list(trial.arms)),
                       ("visit", list(trial.visit_order))):
        table[col] = pd.Categorical(table[col], categories=order)
    table = table.sort_values(["outcome", "arm", "visit"]).reset_index(drop=True)
    for col in ("outcome", "arm", "visit"):
        table[col] = table[col].astype(str)
    table["n"] = table["n"].astype(int)
    table["n_missing"] = table["n_missing"].astype(int)
    return table


def fit_outcome_mmrm(analysis: pd.DataFrame, outcome: str, config: dict) -> MMRMFit:
    """MMRM of one outcome (see the module docstring) with the config's covariance structure,
    fallback chain and df method (``analysis.covariance``, ``analysis.fallback``,
    ``analysis.df_method``); returns the :class:`~pilottrial.models.mmrm.MMRMFit`."""
    a = config["analysis"]
    frame = model_frame(analysis, outcome, config)
    return fit_mmrm(frame, model_formula(frame, config), subject="participant", visit="visit",
                    covariance=a["covariance"], fallback=a.get("fallback"), method="reml",
                    df_method=a["df_method"])


def _contrast_table(fit, outcome, model_name, trial):
    table = fit.treatment_contrasts("arm", trial.reference, trial.treatment, visit="visit", alpha=trial.alpha)
    if "visit" not in fit.factor_levels:  # single post-baseline visit: label it
        table["visit"] = list(fit.model_frame["visit"].cat.categories)
    table.insert(0, "model", model_name)
    table.insert(0, "outcome", outcome)
    return table[CONTRAST_COLUMNS]


def primary_contrasts(analysis: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Treatment contrasts of every outcome by MMRM and LMM, and a table of model details.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table (:func:`pilottrial.data.load_trial`).
    config : dict
        The validated trial config: arms, visits, outcomes, ``analysis.alpha``,
        ``analysis.covariance``, ``analysis.fallback``, ``analysis.df_method``.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        ``(contrasts, models)``: contrasts with :data:`CONTRAST_COLUMNS`, one row per outcome x
        model x post-baseline visit, the ``mmrm`` rows first; models with one row per outcome x
        model: structure used, df method, -2 REML log-likelihood, AIC, participants and
        observations used, failed fallback attempts. An outcome measured at one post-baseline
        visit has the MMRM only (an ANCOVA; a random intercept is not identified).

    Notes
    -----
    Both models: :math:`\text{change}_{ij} = \beta_0 + \beta_b\,\text{baseline}_i + \alpha_j +
    \tau_j[\text{arm}_i = T] + \varepsilon_{ij}` (covariates of the config added). The contrast
    at visit *j* is :math:`\hat\tau_j = c'\hat\beta` with standard error
    :math:`\sqrt{c'\Phi c}`, :math:`\Phi = (X'V^{-1}X)^{-1}`, and interval
    :math:`\hat\tau_j \pm t_{1-\alpha/2,\nu}\,\mathrm{SE}` with Satterthwaite (or Kenward-Roger)
    :math:`\nu`. MMRM: :math:`V_i` unstructured (or the first structure of the fallback chain
    that converges); LMM: :math:`V_i = \sigma_u^2 J + \sigma^2 I`.

    References
    ----------
    Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP (2008). Recommendations for the
    primary analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J
    42:303-319.

    Examples
    --------
    >>> from pilottrial.config import load_config
    >>> from pilottrial.data import load_trial
    >>> config = load_config("config/config.yaml")
    >>> contrasts, models = primary_contrasts(load_trial(config), config)
    >>> contrasts[contrasts["outcome"] == "CAPS-5"].round(1)[["model", "visit", "estimate", "ci_lower", "ci_upper", "df"]]
      model visit  estimate  ci_lower  ci_upper    df
    0  mmrm   24h     -12.3     -19.9      -4.7  24.0
    1  mmrm    7d      -7.0     -16.0       1.9  24.3
    2  mmrm   30d     -12.7     -22.4      -3.1  22.3
    3   lmm   24h     -12.4     -20.7      -4.1  44.4
    4   lmm    7d      -7.1     -15.5       1.3  45.7
    5   lmm   30d     -13.6     -22.2      -4.9  48.5
    >>> models[["outcome", "model", "covariance", "n_participants", "n_observations"]].head(3)
      outcome model covariance  n_participants  n_observations
    0  CAPS-5  mmrm         us              27              77
    1  CAPS-5   lmm         cs              27              77
    2   PCL-5  mmrm         us              27              77
    """
    trial = Trial.from_config(config)
    rows, models = [], []
    for outcome in trial.outcome_names:
        single_visit = len(model_frame(analysis, outcome, config)["visit"].cat.categories) == 1
        # one post-baseline visit: the MMRM is an ANCOVA and a random intercept is not identified
        fitters = (("mmrm", fit_outcome_mmrm),) if single_visit else (("mmrm", fit_outcome_mmrm),
                                                                      ("lmm", fit_outcome_lmm))
        for name, fitter in fitters:
            fit = fitter(analysis, outcome, config)
            rows.append(_contrast_table(fit, outcome, name, trial))
            models.append({"outcome": outcome, "model": name, "covariance": fit.structure,
                           "df_method": fit.df_method, "neg2_reml_loglik": fit.neg2_loglik, "aic": fit.aic,
                           "n_participants": fit.n_subjects, "n_observations": fit.n_obs,
                           "fallback_attempts": len(fit.attempts)})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(models)
