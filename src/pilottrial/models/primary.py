r"""The primary analysis of a pilot trial: descriptives and treatment contrasts per outcome.

For each outcome, over the post-baseline visits:

* **MMRM** (:func:`fit_outcome_mmrm`) -- change ~ baseline + arm * visit, residual covariance
  across visits within participant (unstructured by default), REML, fixed-effect covariance
  :math:`(X'V^{-1}X)^{-1}`, Satterthwaite (or Kenward-Roger) degrees of freedom;
* **LMM** (:func:`pilottrial.models.lmm.fit_outcome_lmm`) -- the same fixed effects with a random
  participant intercept; its marginal covariance is compound symmetry, so the same small-sample
  inference applies.

Contrasts are treatment minus reference differences in adjusted mean change at each visit,
with t-based confidence intervals; no z-based inference. With three or more arms one model
holds every arm and each comparison of ``trial.comparisons`` is its contrast, adjusted across
the comparisons at each visit by ``analysis.arm_adjustment``
(:func:`pilottrial.models.adjustment.adjust_comparisons`). A model that cannot be estimated on
the trial (no post-baseline data, no covariance structure of the chain fits) gives rows of NaN
with the reason in ``models.csv``'s ``note``; the other model and outcomes go on.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.models.adjustment import adjust_comparisons
from pilottrial.models.frame import FORMULA, model_formula, model_frame
from pilottrial.models.lmm import fit_outcome_lmm
from pilottrial.models.mmrm import MMRMFit, fit_mmrm

__all__ = ["descriptives", "model_frame", "model_formula", "fit_outcome_mmrm", "fit_outcome_lmm", "primary_contrasts",
           "comparison_contrasts", "CONTRAST_COLUMNS", "MULTI_ARM_COLUMNS", "MODEL_COLUMNS", "MODEL_FAILURES",
           "FORMULA"]

#: Columns of the contrasts table (the contract of ``contrasts.csv``).
CONTRAST_COLUMNS = ["outcome", "model", "visit", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                    "p_value"]
#: Columns ending ``contrasts.csv`` with three or more arms: the comparison (``Comparison.name``)
#: and the intervals and p-values adjusted across the comparisons at the same visit.
MULTI_ARM_COLUMNS = ["treatment", "ci_lower_adjusted", "ci_upper_adjusted", "p_value_adjusted"]
#: Columns of the model table (``models.csv``); ``note`` says why a structure was used or a model
#: is not estimable, empty when the first structure converged.
MODEL_COLUMNS = ["outcome", "model", "covariance", "df_method", "neg2_reml_loglik", "aic", "n_participants",
                 "n_observations", "fallback_attempts", "note"]
#: Errors of a model that cannot be estimated on these data (MMRMError, LinAlgError are
#: ValueErrors; NotPositiveDefinite, FloatingPointError are ArithmeticErrors).
MODEL_FAILURES = (ValueError, ArithmeticError)

logger = logging.getLogger("pilottrial.models.primary")


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
                    df_method=a["df_method"], label=outcome)


def _contrast_table(fit, outcome, model_name, trial):
    if trial.is_multi_arm:
        return comparison_contrasts(fit, trial).pipe(_label_rows, outcome, model_name)
    table = fit.treatment_contrasts("arm", trial.reference, trial.treatment, visit="visit", alpha=trial.alpha)
    if "visit" not in fit.factor_levels:  # single post-baseline visit: label it
        table["visit"] = list(fit.model_frame["visit"].cat.categories)
    table.insert(0, "model", model_name)
    table.insert(0, "outcome", outcome)
    return table[CONTRAST_COLUMNS]


def _label_rows(table, outcome, model_name):
    table.insert(0, "model", model_name)
    table.insert(0, "outcome", outcome)
    return table[CONTRAST_COLUMNS + MULTI_ARM_COLUMNS]


def comparison_contrasts(fit: MMRMFit, trial: Trial, arm: str = "arm", visit: str = "visit") -> pd.DataFrame:
    r"""Every comparison of a trial with three or more arms from one fitted model, unadjusted and
    adjusted across the comparisons at each visit.

    Parameters
    ----------
    fit : pilottrial.models.mmrm.MMRMFit
        A model with all arms (``arm * visit``), e.g. :func:`fit_outcome_mmrm`.
    trial : pilottrial.config.Trial
        Gives ``comparisons`` (each ``treatment`` minus its ``reference``), ``arm_adjustment``
        and ``alpha``.
    arm, visit : str
        The model's arm and visit factors.

    Returns
    -------
    pandas.DataFrame
        ``visit, estimate, std_error, df, ci_lower, ci_upper, p_value, treatment,
        ci_lower_adjusted, ci_upper_adjusted, p_value_adjusted``: the rows of each comparison
        (visits in order) together, comparisons in ``trial.comparisons`` order.

    Notes
    -----
    Comparison *c* at visit *j* is :math:`\hat	heta_{cj} = l_{cj}'\hateta`, the difference
    of the two arms' LS-means (:meth:`~pilottrial.models.mmrm.MMRMFit.arm_difference_rows`),
    with its own Satterthwaite or Kenward-Roger df (:meth:`~pilottrial.models.mmrm.MMRMFit.contrast`),
    as emmeans ``contrast(emmeans(fit, ~ arm | visit), "trt.vs.ctrl")``. The comparisons at
    visit *j* have covariance :math:`L_j\Phi L_j'` (:math:`\Phi` = ``fit.vcov``), whose
    correlation the Dunnett adjustment uses (:mod:`pilottrial.models.adjustment`).
    """
    tables, rows = [], []
    for comparison in trial.comparisons:
        L, visits = fit.arm_difference_rows(arm, comparison.reference, comparison.treatment, visit)
        if visit not in fit.factor_levels:  # single post-baseline visit: label it
            visits = list(fit.model_frame[visit].cat.categories)
        table = fit.contrast(L, alpha=trial.alpha)
        table.insert(0, "visit", visits)
        tables.append(table.assign(treatment=comparison.name))
        rows.append(L)
    for j in range(len(tables[0])):
        Lj = np.array([L[j] for L in rows])
        adjusted = adjust_comparisons([t["estimate"].iloc[j] for t in tables],
                                      [t["std_error"].iloc[j] for t in tables],
                                      [t["df"].iloc[j] for t in tables],
                                      Lj @ fit.vcov @ Lj.T, trial.arm_adjustment, trial.alpha)
        for c, table in enumerate(tables):
            for name, values in zip(MULTI_ARM_COLUMNS[1:], adjusted, strict=True):
                table.loc[table.index[j], name] = values[c]
    columns = [c for c in CONTRAST_COLUMNS if c not in ("outcome", "model")] + MULTI_ARM_COLUMNS
    return pd.concat(tables, ignore_index=True)[columns]


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
        model x post-baseline visit, the ``mmrm`` rows first (three or more arms: those rows for
        each comparison of ``trial.comparisons`` in turn, with :data:`MULTI_ARM_COLUMNS` added,
        see :func:`comparison_contrasts`); models with one row per outcome x
        model (:data:`MODEL_COLUMNS`): structure used, df method, -2 REML log-likelihood, AIC,
        participants and observations used, failed fallback attempts and a ``note``: which
        structures were skipped or failed and why, a singular LMM, or why the model is not
        estimable (empty when the first structure converged). An outcome measured at one
        post-baseline visit has the MMRM only (an ANCOVA; a random intercept is not
        identified). A model that cannot be estimated (an outcome without post-baseline data,
        no structure of the chain fitting, a random intercept not identified) has contrast rows
        of NaN at its visits and the reason in ``note``; the other models are unaffected.

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
        frame = model_frame(analysis, outcome, config)
        visits = list(frame["visit"].cat.categories)
        if frame.empty:
            reason = (f"no {'scores' if trial.response == 'raw' else 'post-baseline change from baseline'} "
                      f"for {outcome}: not estimable")
            for name in ("mmrm", "lmm"):
                rows.append(_not_estimable_rows(outcome, name, _planned_visits(trial), trial))
                models.append(_model_row(outcome, name, None, frame, reason))
            logger.info("%s: %s", outcome, reason)
            continue
        # one post-baseline visit: the MMRM is an ANCOVA and a random intercept is not identified
        fitters = (("mmrm", fit_outcome_mmrm),) if len(visits) == 1 else (("mmrm", fit_outcome_mmrm),
                                                                         ("lmm", fit_outcome_lmm))
        for name, fitter in fitters:
            started = time.monotonic()
            try:
                fit = fitter(analysis, outcome, config)
                table = _contrast_table(fit, outcome, name, trial)
            except MODEL_FAILURES as exc:
                logger.warning("%s %s not estimable: %s", outcome, name.upper(), exc, exc_info=True)
                rows.append(_not_estimable_rows(outcome, name, visits, trial))
                models.append(_model_row(outcome, name, None, frame, f"not estimable: {exc}",
                                         len(getattr(exc, "attempts", []))))
                continue
            logger.info("%s %s: %s covariance, %.1f s%s", outcome, name.upper(), fit.structure,
                        time.monotonic() - started, f" ({'; '.join(fit.notes)})" if fit.notes else "")
            rows.append(table)
            models.append(_model_row(outcome, name, fit, frame, "; ".join(fit.notes)))
    contrasts = pd.concat(rows, ignore_index=True)
    if trial.is_multi_arm:  # the rows of a comparison together, in trial.comparisons order
        order = {c.name: i for i, c in enumerate(trial.comparisons)}
        contrasts = contrasts.sort_values("treatment", key=lambda s: s.map(order), kind="stable")
        contrasts = contrasts.reset_index(drop=True)
    return contrasts, pd.DataFrame(models, columns=MODEL_COLUMNS)


def _planned_visits(trial) -> list:
    """The visits a model of the trial would estimate contrasts at."""
    return list(trial.visit_order) if trial.response == "raw" else list(trial.post_baseline)


def _not_estimable_rows(outcome, model_name, visits, trial=None) -> pd.DataFrame:
    if trial is not None and trial.is_multi_arm:
        tables = [_not_estimable_rows(outcome, model_name, visits).assign(treatment=c.name)
                  for c in trial.comparisons]
        return pd.concat(tables, ignore_index=True).assign(
            **{c: np.nan for c in MULTI_ARM_COLUMNS[1:]})[CONTRAST_COLUMNS + MULTI_ARM_COLUMNS]
    table = pd.DataFrame({"outcome": outcome, "model": model_name, "visit": list(visits)},
                         columns=CONTRAST_COLUMNS)
    numbers = [c for c in CONTRAST_COLUMNS if c not in ("outcome", "model", "visit")]
    table[numbers] = np.nan
    return table.astype({c: float for c in numbers})


def _model_row(outcome, model_name, fit, frame, note, attempts=0) -> dict:
    if fit is None:
        return {"outcome": outcome, "model": model_name, "covariance": "", "df_method": "",
                "neg2_reml_loglik": np.nan, "aic": np.nan,
                "n_participants": int(frame["participant"].nunique()), "n_observations": len(frame),
                "fallback_attempts": attempts, "note": note}
    return {"outcome": outcome, "model": model_name, "covariance": fit.structure, "df_method": fit.df_method,
            "neg2_reml_loglik": fit.neg2_loglik, "aic": fit.aic, "n_participants": fit.n_subjects,
            "n_observations": fit.n_obs, "fallback_attempts": len(fit.attempts), "note": note}
