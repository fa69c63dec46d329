"""Sensitivity analyses 6 and 7: the random-intercept LMM and the MMRM with other covariance structures."""

from __future__ import annotations

import pandas as pd

from pilottrial.analyses.sensitivity.rows import (
    FAILURES,
    arm_comparisons,
    comparison_table,
    contrast_rows,
    failed_rows,
    no_follow_up,
    prepare,
    prepare_arms,
    sensitivity_table,
)
from pilottrial.models.frame import model_formula
from pilottrial.models.lmm import fit_lmm
from pilottrial.models.mmrm import fit_mmrm

__all__ = ["lmm_random_intercept", "mmrm_structures", "SENSITIVITY_STRUCTURES"]

#: Default structures of :func:`mmrm_structures` (the config's ``analysis.sensitivity_structures``).
SENSITIVITY_STRUCTURES = ("cs", "ar1", "toeph")


def lmm_random_intercept(frame: pd.DataFrame, reference: str, treatment, *, visits=None,
                         alpha: float = 0.05, formula: str | None = None,
                         outcome: str | None = None, comparisons=None) -> pd.DataFrame:
    r"""Linear mixed model with a random participant intercept (the primary analysis' LMM).

    Parameters
    ----------
    frame, reference, treatment, visits, alpha, outcome
        As :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.
    formula : str, optional
        Mean model; default ``change ~ baseline + arm * visit``.
    comparisons : sequence of Comparison, optional
        Three or more arms (``treatment`` a list): as
        :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS`, one row per visit;
        ``model`` is ``"lmm"``, ``analysis`` ``"lmm_random_intercept"``. An outcome measured
        at a single post-baseline visit, or a model that does not fit, gives rows of NaN.
        Three or more arms: one LMM of all arms, the rows of each comparison in turn (its
        difference in LS-means at each visit), with a last column ``treatment``.

    Notes
    -----
    :func:`pilottrial.models.lmm.fit_lmm`: :math:`y_i = X_i\beta + 1u_i + \varepsilon_i`,
    :math:`u_i \sim N(0, \sigma_u^2)`, :math:`\varepsilon_i \sim N(0, \sigma^2 I)`, REML
    with :math:`\sigma_u^2 \ge 0` (as lme4; a variance at 0 is a singular fit, said in
    ``note``), fixed-effect covariance :math:`(X'V^{-1}X)^{-1}` and Satterthwaite df.

    References
    ----------
    Laird NM, Ware JH (1982). Random-effects models for longitudinal data. Biometrics 38:963-974.

    Examples
    --------
    >>> from pilottrial.analyses.common import example_frame
    >>> frame = example_frame()
    >>> table = lmm_random_intercept(frame, "placebo", "drug")
    >>> [(row.visit, round(row.estimate, 2), round(row.std_error, 2)) for row in table.itertuples()]
    [('week4', -4.91, 3.17), ('week8', -8.11, 3.17)]
    """
    arms, comparisons = arm_comparisons(reference, treatment, comparisons)
    if arms is not None:
        return _lmm_arms(frame, arms, comparisons, visits, alpha, formula, outcome)
    frame, visits, outcome = prepare(frame, reference, treatment, visits, outcome)
    if len(frame["visit"].cat.categories) < 2:
        reason = no_follow_up(frame, outcome) or (f"{outcome} is measured at one post-baseline visit; "
                                                  f"a random intercept is not identified")
        return sensitivity_table(failed_rows(outcome, "lmm_random_intercept", "lmm", visits, reason))
    try:
        fit = fit_lmm(frame, formula or model_formula(frame), subject="participant", visit="visit",
                      df_method="satterthwaite", label=outcome)
        singular = "; singular fit: sigma_u^2 estimated at 0" if fit.singular else ""
        rows = contrast_rows(fit, outcome, "lmm_random_intercept", "lmm", reference, treatment, visits, alpha,
                             f"random intercept (REML, sigma_u^2 >= 0): sigma_u^2 = {fit.phi[0]:.4g}, "
                             f"sigma^2 = {fit.phi[1]:.4g}; Satterthwaite df{singular}")
    except FAILURES as exc:
        rows = failed_rows(outcome, "lmm_random_intercept", "lmm", visits,
                           f"the random-intercept LMM does not fit ({exc})")
    return sensitivity_table(rows)


def mmrm_structures(frame: pd.DataFrame, reference: str, treatment, *, structures=SENSITIVITY_STRUCTURES,
                    df_method: str = "satterthwaite", visits=None, alpha: float = 0.05,
                    formula: str | None = None, outcome: str | None = None, comparisons=None) -> pd.DataFrame:
    r"""The MMRM refitted with each of ``structures`` as its residual covariance.

    Parameters
    ----------
    frame, reference, treatment, visits, alpha, outcome
        As :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.
    structures : sequence of str, default ("cs", "ar1", "toeph")
        Covariance structures (:data:`pilottrial.models.mmrm.STRUCTURES`).
    df_method : str, default "satterthwaite"
        Degrees of freedom (:data:`pilottrial.models.mmrm.DF_METHODS`).
    formula : str, optional
        Mean model; default ``change ~ baseline + arm * visit``.
    comparisons : sequence of Comparison, optional
        Three or more arms (``treatment`` a list): as
        :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS`, one row per structure x
        visit; ``analysis`` is ``mmrm_<structure>``, ``model`` ``"mmrm"``; ``note`` gives -2
        REML log-likelihood and AIC. Three or more arms: one MMRM of all arms per structure,
        the rows of each comparison in turn (structure, then visit), with a last column
        ``treatment``.

    Notes
    -----
    ``change ~ baseline + arm * visit``, REML, as :func:`pilottrial.models.primary.fit_outcome_mmrm`
    but with the structure fixed (**no fallback**): a structure that does not converge, or
    whose Hessian is not positive definite, gives rows of NaN with the reason in ``note``.

    References
    ----------
    Wolfinger RD (1993). Covariance structure selection in general mixed models. Commun Stat
    Simul Comput 22:1079-1106.
    Mallinckrodt CH et al. (2008). Recommendations for the primary analysis of continuous
    endpoints in longitudinal clinical trials. Drug Inf J 42:303-319.

    Examples
    --------
    >>> from pilottrial.analyses.common import example_frame
    >>> frame = example_frame()
    >>> table = mmrm_structures(frame, "placebo", "drug", structures=["cs", "ar1"])
    >>> table[["analysis", "visit", "estimate", "std_error"]].round(2)
       analysis  visit  estimate  std_error
    0   mmrm_cs  week4     -4.91       3.17
    1   mmrm_cs  week8     -8.11       3.17
    2  mmrm_ar1  week4     -4.91       3.17
    3  mmrm_ar1  week8     -8.11       3.17
    """
    arms, comparisons = arm_comparisons(reference, treatment, comparisons)
    if arms is not None:
        return _mmrm_structures_arms(frame, arms, comparisons, structures, df_method, visits, alpha, formula,
                                     outcome)
    frame, visits, outcome = prepare(frame, reference, treatment, visits, outcome)
    rows = []
    for structure in structures:
        name = f"mmrm_{structure}"
        if no_follow_up(frame, outcome):
            rows += failed_rows(outcome, name, "mmrm", visits, no_follow_up(frame, outcome))
            continue
        try:
            fit = fit_mmrm(frame, formula or model_formula(frame), subject="participant", visit="visit",
                           covariance=structure, fallback=None, method="reml", df_method=df_method)
            rows += contrast_rows(fit, outcome, name, "mmrm", reference, treatment, visits, alpha,
                                  f"{structure} covariance, REML, {fit.df_method} df; -2 REML log-likelihood "
                                  f"{fit.neg2_loglik:.3f}, AIC {fit.aic:.3f}")
        except FAILURES as exc:
            rows += failed_rows(outcome, name, "mmrm", visits, exc)
    return sensitivity_table(rows)


def _lmm_arms(frame, arms, comparisons, visits, alpha, formula, outcome) -> pd.DataFrame:
    """:func:`lmm_random_intercept` of three or more arms: one LMM, each comparison's contrasts."""
    frame, visits, outcome = prepare_arms(frame, arms, visits, outcome)
    name = "lmm_random_intercept"
    if len(frame["visit"].cat.categories) < 2:
        reason = no_follow_up(frame, outcome) or (f"{outcome} is measured at one post-baseline visit; "
                                                  f"a random intercept is not identified")
        return comparison_table([(c, failed_rows(outcome, name, "lmm", visits, reason)) for c in comparisons])
    try:
        fit = fit_lmm(frame, formula or model_formula(frame), subject="participant", visit="visit",
                      df_method="satterthwaite", label=outcome)
    except FAILURES as exc:
        return comparison_table([(c, failed_rows(outcome, name, "lmm", visits,
                                                 f"the random-intercept LMM does not fit ({exc})"))
                                 for c in comparisons])
    singular = "; singular fit: sigma_u^2 estimated at 0" if fit.singular else ""
    note = (f"random intercept (REML, sigma_u^2 >= 0): sigma_u^2 = {fit.phi[0]:.4g}, sigma^2 = {fit.phi[1]:.4g}; "
            f"Satterthwaite df{singular}")
    blocks = []
    for c in comparisons:
        try:
            rows = contrast_rows(fit, outcome, name, "lmm", c.reference, c.treatment, visits, alpha, note)
        except FAILURES as exc:
            rows = failed_rows(outcome, name, "lmm", visits, f"the random-intercept LMM contrast failed ({exc})")
        blocks.append((c, rows))
    return comparison_table(blocks)


def _mmrm_structures_arms(frame, arms, comparisons, structures, df_method, visits, alpha, formula,
                          outcome) -> pd.DataFrame:
    """:func:`mmrm_structures` of three or more arms: one MMRM per structure, each comparison's contrasts."""
    frame, visits, outcome = prepare_arms(frame, arms, visits, outcome)
    rows = {c.name: [] for c in comparisons}
    for structure in structures:
        name = f"mmrm_{structure}"
        reason = no_follow_up(frame, outcome)
        if reason is None:
            try:
                fit = fit_mmrm(frame, formula or model_formula(frame), subject="participant", visit="visit",
                               covariance=structure, fallback=None, method="reml", df_method=df_method)
            except FAILURES as exc:
                reason = exc
        for c in comparisons:
            if reason is not None:
                rows[c.name] += failed_rows(outcome, name, "mmrm", visits, reason)
                continue
            try:
                rows[c.name] += contrast_rows(fit, outcome, name, "mmrm", c.reference, c.treatment, visits, alpha,
                                              f"{structure} covariance, REML, {fit.df_method} df; -2 REML "
                                              f"log-likelihood {fit.neg2_loglik:.3f}, AIC {fit.aic:.3f}")
            except FAILURES as exc:
                rows[c.name] += failed_rows(outcome, name, "mmrm", visits, exc)
    return comparison_table([(c, rows[c.name]) for c in comparisons])
