"""Sensitivity analysis 1: ANCOVA of change at each visit, complete cases at that visit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import SingularMatrixWarning

from pilottrial.analyses.sensitivity.rows import (
    arm_comparisons,
    cached,
    comparison_table,
    per_visit,
    prepare,
    prepare_arms,
    sensitivity_table,
)

__all__ = ["ancova_complete_case"]


def ancova_complete_case(frame: pd.DataFrame, reference: str, treatment, *, visits=None,
                         alpha: float = 0.05, outcome: str | None = None, comparisons=None) -> pd.DataFrame:
    r"""ANCOVA of change at each visit, on the participants observed at that visit.

    Parameters
    ----------
    frame : pandas.DataFrame
        One outcome's post-baseline rows with an observed change: ``participant, arm, visit,
        baseline, change`` (e.g. :func:`pilottrial.models.primary.model_frame`; plain text
        labels are coded by :func:`pilottrial.analyses.common.outcome_frame`).
    reference, treatment : str
        Arm labels; the estimate is treatment minus reference. Three or more arms: ``treatment``
        is the list of treatment arms, and all arms are fitted in one model.
    visits : list of str, optional
        Visits to report (default every visit of ``frame``); a visit without data gives a row
        of NaN with the reason.
    alpha : float, default 0.05
        Intervals are 100(1 - alpha)%.
    outcome : str, optional
        Outcome label of the rows (default the ``outcome`` column of ``frame``).
    comparisons : sequence of Comparison, optional
        Three or more arms: the comparisons to report (default each treatment minus
        ``reference``); pairs of treatments are differences of the model's arm effects.

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS`, one row per visit;
        ``model`` is ``"ancova"``, ``analysis`` ``"ancova_complete_case"``, ``note`` gives the
        number of participants used. Three or more arms: the rows of each comparison in turn,
        with a last column ``treatment`` (``Comparison.name``).

    Notes
    -----
    Model, separately for each visit :math:`v`, by ordinary least squares:

    .. math::
        \mathrm{change}_{iv} = \beta_0 + \beta_1\,\mathrm{baseline}_i + \delta_v\,
        \mathrm{treatment}_i + \varepsilon_i,\qquad \varepsilon_i \sim N(0, \sigma_v^2),

    i.e. ``change ~ baseline + arm`` with the reference arm as the reference level. The
    estimate is :math:`\hat\delta_v` (treatment minus reference, adjusted for baseline), with a
    t interval and test on the residual degrees of freedom :math:`n_v - 3`.

    With :math:`k \ge 3` arms, one model of all arms at each visit, ``change ~ baseline + arm``
    with :math:`k - 1` arm effects, a common baseline slope and residual variance (df
    :math:`n_v - k - 1`); a comparison of arms :math:`a` and :math:`b` is the contrast
    :math:`\hat\delta_a - \hat\delta_b` (:math:`\hat\delta` of the reference is 0), as R
    ``emmeans(lm(change ~ baseline + arm), pairwise ~ arm, adjust = "none")``. An arm without
    participants at the visit leaves the model; its comparisons are not estimable there.

    Complete-case at each visit: valid when missingness does not depend on the outcome given
    baseline and arm (MCAR given covariates); the MMRM needs only MAR.

    References
    ----------
    Vickers AJ, Altman DG (2001). Analysing controlled trials with baseline and follow up
    measurements. BMJ 323:1123-1124.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "participant": [f"P{i}" for i in range(8)], "visit": "week8",
    ...     "arm": ["placebo"] * 4 + ["drug"] * 4,
    ...     "baseline": [30, 34, 28, 40, 32, 36, 29, 38],
    ...     "change": [-4, -6, -2, -7, -10, -12, -8, -14]})
    >>> row = ancova_complete_case(frame, "placebo", "drug").iloc[0]
    >>> print(row["visit"], round(row["estimate"], 3), row["df"], round(row["p_value"], 4))
    week8 -5.888 5.0 0.0002
    """
    arms, comparisons = arm_comparisons(reference, treatment, comparisons)
    if arms is not None:
        return _ancova_arms(frame, arms, comparisons, visits, alpha, outcome)
    frame, visits, outcome = prepare(frame, reference, treatment, visits, outcome)

    def estimate_at(visit):
        at = frame[frame["visit"] == visit]
        counts = at["arm"].value_counts()
        if min(counts.get(reference, 0), counts.get(treatment, 0)) == 0:
            raise ValueError(f"an arm has no participant observed at {visit} ({counts.get(reference, 0)} "
                             f"{reference}, {counts.get(treatment, 0)} {treatment})")
        with warnings.catch_warnings():  # a singular design is reported below, not warned about
            warnings.simplefilter("ignore", SingularMatrixWarning)
            fit = smf.ols("change ~ baseline + arm", data=at).fit()
        term = f"arm[T.{treatment}]"
        if term not in fit.params.index or fit.df_resid < 1:
            raise ValueError(f"both arms and at least 4 participants are needed at {visit}")
        if fit.model.rank < fit.model.exog.shape[1]:
            raise ValueError(f"the design change ~ baseline + arm is singular at {visit} (the baseline does not "
                             f"vary)")
        lower, upper = fit.conf_int(alpha=alpha).loc[term]
        return {"estimate": fit.params[term], "std_error": fit.bse[term], "df": fit.df_resid,
                "ci_lower": lower, "ci_upper": upper, "p_value": fit.pvalues[term],
                "note": f"OLS change ~ baseline + arm; n = {int(fit.nobs)} observed at {visit}"}

    return sensitivity_table(per_visit(outcome, "ancova_complete_case", "ancova", frame, visits, estimate_at))


def _ancova_arms(frame, arms, comparisons, visits, alpha, outcome) -> pd.DataFrame:
    """:func:`ancova_complete_case` of three or more arms: one OLS fit of all arms per visit."""
    frame, visits, outcome = prepare_arms(frame, arms, visits, outcome)

    def fit_at(visit):
        at = frame[frame["visit"] == visit].copy()
        at["arm"] = at["arm"].cat.remove_unused_categories()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularMatrixWarning)
            fit = smf.ols("change ~ baseline + arm", data=at).fit()
        if fit.df_resid < 1:
            raise ValueError(f"at least {len(at['arm'].cat.categories) + 2} participants are needed at {visit}")
        if fit.model.rank < fit.model.exog.shape[1]:
            raise ValueError(f"the design change ~ baseline + arm is singular at {visit} (the baseline does not "
                             f"vary)")
        return fit, at["arm"].value_counts()

    fit_at = cached(fit_at)
    blocks = []
    for comparison in comparisons:
        def estimate_at(visit, comparison=comparison):
            fit, counts = fit_at(visit)
            absent = [a for a in comparison.arms if counts.get(a, 0) == 0]
            if absent:
                raise ValueError(f"an arm has no participant observed at {visit} ({', '.join(absent)})")
            contrast = np.zeros(len(fit.params))
            for arm, sign in ((comparison.treatment, 1.0), (comparison.reference, -1.0)):
                term = f"arm[T.{arm}]"
                if term in fit.params.index:  # the first arm present is the model's reference level
                    contrast[list(fit.params.index).index(term)] = sign
            test = fit.t_test(contrast)
            lower, upper = np.asarray(test.conf_int(alpha=alpha)).ravel()
            return {"estimate": float(np.squeeze(test.effect)), "std_error": float(np.squeeze(test.sd)),
                    "df": fit.df_resid, "ci_lower": lower, "ci_upper": upper,
                    "p_value": float(np.squeeze(test.pvalue)),
                    "note": f"OLS change ~ baseline + arm ({len(counts[counts > 0])} arms); n = {int(fit.nobs)} "
                            f"observed at {visit}"}

        blocks.append((comparison, per_visit(outcome, "ancova_complete_case", "ancova", frame, visits,
                                             estimate_at)))
    return comparison_table(blocks)
