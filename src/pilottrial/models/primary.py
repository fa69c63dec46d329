"""The primary analysis of a pilot trial: descriptives and treatment contrasts per outcome.

For each outcome, over the post-baseline visits:

* **MMRM** -- change ~ baseline + arm * visit, residual covariance across visits within
  participant (unstructured by default), REML, fixed-effect covariance
  :math:`(X'V^{-1}X)^{-1}`, Satterthwaite (or Kenward-Roger) degrees of freedom;
* **LMM** -- the same fixed effects with a random participant intercept, fitted by REML with
  statsmodels ``MixedLM``; its marginal covariance is compound symmetry, so the same
  small-sample inference (Satterthwaite df in the parameters ``(sigma_u^2, sigma^2)``) applies.

Contrasts are treatment minus reference differences in adjusted mean change at each visit,
with t-based confidence intervals; no z-based inference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from pilottrial.config.load import post_baseline_visits
from pilottrial.data.ingest import model_covariates
from pilottrial.models.mmrm import MMRMError, fit_mmrm, mmrm_at

__all__ = ["descriptives", "model_frame", "model_formula", "fit_outcome_mmrm", "fit_outcome_lmm", "primary_contrasts",
           "CONTRAST_COLUMNS"]

CONTRAST_COLUMNS = ["outcome", "model", "visit", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                    "p_value"]
FORMULA = "change ~ baseline + arm * visit"


def descriptives(analysis: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Scores by outcome x arm x visit: n, mean, SD, median, quartiles, n missing, and the
    mean (SD) change from baseline at post-baseline visits."""
    visits = list(config["visits"]["order"])
    arms = [config["arms"]["reference"], config["arms"]["treatment"]]
    outcomes = [o["name"] for o in config["outcomes"]]
    grouped = analysis.groupby(["outcome", "arm", "visit"], observed=True)
    table = grouped["score"].agg(
        n="count", mean="mean", sd="std", median="median",
        q1=lambda s: s.quantile(0.25), q3=lambda s: s.quantile(0.75),
        n_missing=lambda s: int(s.isna().sum()),
    )
    change = grouped["change"].agg(change_mean="mean", change_sd="std")
    table = table.join(change).reset_index()
    table.loc[table["visit"] == config["visits"].get("baseline"), ["change_mean", "change_sd"]] = np.nan
    for col, order in (("outcome", outcomes), ("arm", arms), ("visit", visits)):
        table[col] = pd.Categorical(table[col], categories=order)
    table = table.sort_values(["outcome", "arm", "visit"]).reset_index(drop=True)
    for col in ("outcome", "arm", "visit"):
        table[col] = table[col].astype(str)
    table["n"] = table["n"].astype(int)
    table["n_missing"] = table["n_missing"].astype(int)
    return table


def _raw(config: dict) -> bool:
    return config.get("analysis", {}).get("response") == "raw"


def model_frame(analysis: pd.DataFrame, outcome: str, config: dict) -> pd.DataFrame:
    """Rows of one outcome entering its model, with ``arm`` and ``visit`` as Categoricals whose
    first level is the reference arm and the first visit with data. Change analysis: the
    post-baseline visits, missing changes dropped; raw analysis (``analysis.response: raw``):
    every visit with a score. Rows missing a covariate are dropped."""
    covariates = model_covariates(config)
    if _raw(config):
        frame = analysis[analysis["outcome"] == outcome].dropna(subset=["score"] + covariates).copy()
        order = list(config["visits"]["order"])
    else:
        frame = analysis[(analysis["outcome"] == outcome) & (analysis["visit"] != config["visits"]["baseline"])]
        frame = frame.dropna(subset=["change", "baseline"] + covariates).copy()
        order = post_baseline_visits(config)
    frame["arm"] = pd.Categorical(frame["arm"], [config["arms"]["reference"], config["arms"]["treatment"]])
    measured = [v for v in order if v in set(frame["visit"])]
    frame["visit"] = pd.Categorical(frame["visit"], measured)
    return frame


def model_formula(frame: pd.DataFrame, config: dict | None = None) -> str:
    """``change ~ baseline + <covariates> + arm * visit`` (``score ~ <covariates> + arm * visit``
    when ``analysis.response`` is raw); ``arm`` alone for an outcome measured at a single
    post-baseline visit (e.g. imaging at 30 days only)."""
    config = config or {}
    terms = [] if _raw(config) else ["baseline"]
    terms += model_covariates(config)  # non-numeric columns enter as factors
    terms.append("arm * visit" if len(frame["visit"].cat.categories) > 1 else "arm")
    return f"{'score' if _raw(config) else 'change'} ~ " + " + ".join(terms)


def _contrast_table(fit, outcome, model_name, config):
    table = fit.treatment_contrasts("arm", config["arms"]["reference"], config["arms"]["treatment"],
                                    visit="visit", alpha=config["analysis"]["alpha"])
    if "visit" not in fit.factor_levels:  # single post-baseline visit: label it
        table["visit"] = list(fit.model_frame["visit"].cat.categories)
    table.insert(0, "model", model_name)
    table.insert(0, "outcome", outcome)
    return table[CONTRAST_COLUMNS]


def fit_outcome_mmrm(analysis: pd.DataFrame, outcome: str, config: dict):
    """MMRM of one outcome (see module docstring); returns the :class:`~pilottrial.models.mmrm.MMRMFit`."""
    a = config["analysis"]
    frame = model_frame(analysis, outcome, config)
    return fit_mmrm(frame, model_formula(frame, config), subject="participant", visit="visit",
                    covariance=a["covariance"], fallback=a.get("fallback"), method="reml",
                    df_method=a["df_method"])


def fit_outcome_lmm(analysis: pd.DataFrame, outcome: str, config: dict):
    """Random-intercept LMM of one outcome by statsmodels MixedLM (REML), with inference from
    the engine at statsmodels' estimate: :math:`V_i = \\sigma_u^2 J + \\sigma^2 I`."""
    frame = model_frame(analysis, outcome, config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = smf.mixedlm(model_formula(frame, config), frame, groups=frame["participant"], re_formula="1")
        result = model.fit(reml=True, method=["lbfgs", "bfgs", "powell"])
    sigma_u2 = float(result.cov_re.iloc[0, 0])
    sigma2 = float(result.scale)
    if not np.isfinite(sigma_u2) or sigma_u2 <= 1e-8 * sigma2:
        raise MMRMError(f"{outcome}: the random-intercept variance is estimated at zero; the LMM "
                        f"reduces to an independence model and its df are not defined")
    return mmrm_at(frame, model_formula(frame, config), subject="participant", visit="visit", covariance="cs",
                   phi=[sigma_u2, sigma2], method="reml", df_method="satterthwaite")


def primary_contrasts(analysis: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Treatment contrasts of every outcome by MMRM and LMM, and a table of model details.

    Returns ``(contrasts, models)``: contrasts with :data:`CONTRAST_COLUMNS`; models with one
    row per outcome x model: structure used, df method, -2 REML log-likelihood, AIC, n used.
    """
    rows, models = [], []
    for outcome in [o["name"] for o in config["outcomes"]]:
        single_visit = len(model_frame(analysis, outcome, config)["visit"].cat.categories) == 1
        # one post-baseline visit: the MMRM is an ANCOVA and a random intercept is not identified
        fitters = (("mmrm", fit_outcome_mmrm),) if single_visit else (("mmrm", fit_outcome_mmrm),
                                                                      ("lmm", fit_outcome_lmm))
        for name, fitter in fitters:
            fit = fitter(analysis, outcome, config)
            rows.append(_contrast_table(fit, outcome, name, config))
            models.append({"outcome": outcome, "model": name, "covariance": fit.structure,
                           "df_method": fit.df_method, "neg2_reml_loglik": fit.neg2_loglik, "aic": fit.aic,
                           "n_participants": fit.n_subjects, "n_observations": fit.n_obs,
                           "fallback_attempts": len(fit.attempts)})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(models)
