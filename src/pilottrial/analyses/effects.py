"""Standardized effect sizes (Hedges' g) of the treatment contrasts, for planning the full trial.

Two readings per efficacy outcome and post-baseline visit:

* ``mmrm_over_baseline_sd`` -- the MMRM difference in adjusted mean change divided by the pooled
  baseline SD (the SD of the population the trial enrols), with Hedges' small-sample factor;
* ``observed_change`` -- Hedges' g of the observed change from baseline between arms among the
  participants observed at that visit (no model, no covariate adjustment).

Three or more arms: both for each comparison, on the participants of its two arms (the pooled
SDs are those of the pair), with the comparison's MMRM contrast (of the model of all arms).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import as_trial, not_estimable, pair_rows, reason_of, with_note
from pilottrial.analyses.multiplicity import per_comparison
from pilottrial.models.frame import model_frame

__all__ = ["effect_sizes", "hedges_g", "hedges_correction", "pooled_sd", "EFFECT_COLUMNS"]

EFFECT_COLUMNS = ["outcome", "visit", "method", "sd_source", "sd", "estimate", "ci_lower", "ci_upper",
                  "n_reference", "n_treatment"]

SD_SOURCE_BASELINE = "baseline score, pooled within arms (participants in the MMRM)"
SD_SOURCE_CHANGE = "change from baseline at the visit, pooled within arms (participants observed)"


def hedges_correction(n_reference: int, n_treatment: int) -> float:
    r"""Hedges' small-sample factor of a standardized mean difference.

    Parameters
    ----------
    n_reference, n_treatment : int
        Group sizes :math:`n_1, n_2`.

    Returns
    -------
    float
        :math:`J`; NaN if :math:`n_1 + n_2 \le 2`.

    Notes
    -----
    .. math:: J = 1 - \frac{3}{4(n_1 + n_2 - 2) - 1},

    the usual approximation of :math:`\Gamma(m/2) / (\sqrt{m/2}\,\Gamma((m-1)/2))`, :math:`m = n_1 + n_2 - 2`.

    References
    ----------
    Hedges LV. Distribution theory for Glass's estimator of effect size and related
    estimators. *J Educ Stat* 1981;6:107-128.

    Examples
    --------
    >>> round(hedges_correction(10, 10), 4)
    0.9577
    """
    dof = n_reference + n_treatment - 2
    return 1.0 - 3.0 / (4.0 * dof - 1.0) if dof > 0 else np.nan


def pooled_sd(reference, treatment) -> float:
    r"""Pooled within-group standard deviation of two samples.

    Parameters
    ----------
    reference, treatment : array_like
        The two samples (no missing values).

    Returns
    -------
    float
        :math:`S`; NaN when a sample has fewer than two values.

    Notes
    -----
    .. math:: S = \sqrt{\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2}}.

    References
    ----------
    Hedges LV, Olkin I. *Statistical Methods for Meta-Analysis*. Academic Press, 1985.

    Examples
    --------
    >>> round(pooled_sd([3, 4, 5, 6, 7], [1, 2, 3, 4]), 4)
    1.4639
    """
    n1, n2 = len(reference), len(treatment)
    if n1 < 2 or n2 < 2:
        return np.nan
    pooled_var = ((n1 - 1) * np.var(reference, ddof=1) + (n2 - 1) * np.var(treatment, ddof=1)) / (n1 + n2 - 2)
    return float(np.sqrt(pooled_var))


def hedges_g(treatment, reference, alpha: float = 0.05) -> tuple[float, float, float, float]:
    r"""Hedges' g of ``treatment`` minus ``reference`` with the Hedges & Olkin interval.

    Parameters
    ----------
    treatment, reference : array_like
        The two samples; missing values are dropped.
    alpha : float, default 0.05
        The interval is 100(1 - alpha)%.

    Returns
    -------
    tuple of float
        ``(g, ci_lower, ci_upper, pooled_sd)``; NaNs when an arm has fewer than two values
        or the pooled SD is zero.

    Notes
    -----
    With means :math:`\bar x_t, \bar x_r`, pooled SD :math:`S` (:func:`pooled_sd`) and
    :math:`J` of :func:`hedges_correction`,

    .. math::

        g = J\,\frac{\bar x_t - \bar x_r}{S}, \qquad
        \mathrm{SE}(g) = \sqrt{\frac{n_t+n_r}{n_t n_r} + \frac{g^2}{2(n_t+n_r)}}, \qquad
        g \pm t_{1-\alpha/2,\,n_t+n_r-2}\,\mathrm{SE}(g).

    Matches ``pingouin.compute_effsize(treatment, reference, eftype="hedges")`` and
    ``pingouin.compute_esci(g, n_t, n_r, eftype="hedges")`` (see :func:`effect_sizes`, Notes).

    References
    ----------
    Hedges LV, Olkin I. *Statistical Methods for Meta-Analysis*. Academic Press, 1985, p. 86.

    Examples
    --------
    >>> g, lower, upper, sd = hedges_g([1, 2, 3, 4], [3, 4, 5, 6, 7])
    >>> round(g, 4), round(sd, 4)
    (-1.5181, 1.4639)
    """
    treatment = np.asarray(treatment, dtype=float)
    reference = np.asarray(reference, dtype=float)
    treatment, reference = treatment[~np.isnan(treatment)], reference[~np.isnan(reference)]
    n_t, n_r = len(treatment), len(reference)
    sd = pooled_sd(reference, treatment)
    if not np.isfinite(sd) or sd == 0:
        return np.nan, np.nan, np.nan, sd
    g = (treatment.mean() - reference.mean()) / sd * hedges_correction(n_r, n_t)
    se = np.sqrt((n_t + n_r) / (n_t * n_r) + g**2 / (2.0 * (n_t + n_r)))
    crit = stats.t.ppf(1.0 - alpha / 2.0, n_t + n_r - 2)
    return float(g), float(g - crit * se), float(g + crit * se), sd


def effect_sizes(analysis: pd.DataFrame, contrasts: pd.DataFrame, config) -> pd.DataFrame:
    """Hedges' g of treatment minus reference for every efficacy outcome x post-baseline visit.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table of :func:`pilottrial.data.load_trial` (``participant, arm, visit,
        outcome, baseline, score, change``).
    contrasts : pandas.DataFrame
        Treatment contrasts of :func:`pilottrial.models.primary.primary_contrasts`; the ``mmrm`` rows
        are used (with three or more arms, the rows of each comparison: ``treatment`` column).
    config : dict or Trial
        Validated trial config (arms, visits, ``outcomes[].role``, ``analysis.alpha``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EFFECT_COLUMNS`; two rows per efficacy outcome x post-baseline visit at
        which the outcome has a score (outcomes in config order, visits in time order,
        ``mmrm_over_baseline_sd`` first then ``observed_change``). ``sd`` is the standardizer,
        ``sd_source`` says which SD it is, ``n_reference``/``n_treatment`` the participants it
        was computed from. Negative ``estimate`` = lower scores (more improvement on a
        lower-is-better scale) with treatment. A row that cannot be estimated (no MMRM
        contrast, fewer than two participants in an arm, an SD of 0) has NaN numbers and a
        ``note`` column, added last, says "not estimable: <reason>"; an outcome without any
        post-baseline score has such rows at the key visits.

        Three or more arms: these rows for each comparison (``trial.comparisons`` order) with a
        last column ``treatment`` (``Comparison.name``); ``n_reference``/``n_treatment`` and
        both SDs are those of the comparison's two arms, so each comparison's rows are the
        two-arm table of that pair.

    Notes
    -----
    **mmrm_over_baseline_sd.** With :math:`\\hat\\Delta` the MMRM treatment minus reference
    difference in adjusted mean change, :math:`(L, U)` its t-based confidence interval and
    :math:`S_0` the pooled within-arm SD of the baseline score of the :math:`n_1 + n_2`
    participants in the MMRM (the participants of
    :func:`pilottrial.models.primary.model_frame`: at least one post-baseline score of the outcome),

    .. math::

        S_0 = \\sqrt{\\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2}}, \\qquad
        J = 1 - \\frac{3}{4(n_1+n_2-2)-1}, \\qquad
        g = J\\,\\frac{\\hat\\Delta}{S_0}, \\qquad
        \\left(J\\,\\frac{L}{S_0},\\; J\\,\\frac{U}{S_0}\\right).

    The SD is treated as fixed (known): the interval carries the uncertainty of
    :math:`\\hat\\Delta` only, not of :math:`S_0`, and is therefore somewhat too narrow. The
    baseline SD is the same for every visit of an outcome, so this g is on one scale across
    visits and uses the covariate-adjusted, missing-at-random estimate.

    **observed_change.** Among the participants with an observed score at the visit, with the
    changes from baseline of the two arms (means :math:`\\bar x_t, \\bar x_r`, pooled SD
    :math:`S_c`),

    .. math::

        g = J\\,\\frac{\\bar x_t - \\bar x_r}{S_c}, \\qquad
        \\mathrm{SE}(g) = \\sqrt{\\frac{n_1+n_2}{n_1 n_2} + \\frac{g^2}{2(n_1+n_2)}}, \\qquad
        g \\pm t_{1-\\alpha/2,\\,n_1+n_2-2}\\,\\mathrm{SE}(g),

    the Hedges & Olkin (1985, p. 86) large-sample variance with a t critical value. This
    matches ``pingouin.compute_effsize(x, y, eftype="hedges")`` for the point estimate
    (pingouin writes :math:`J = 1 - 3/(4(n_1+n_2) - 9)`, the same number) and
    ``pingouin.compute_esci(g, nx, ny, eftype="hedges")`` for the interval (pingouin 0.7;
    without its rounding). It is not the noncentral-t interval (Steiger & Fouladi 1997), from
    which it differs by up to about 0.05 in g with 13 or 14 participants per arm.

    References
    ----------
    Hedges LV. Distribution theory for Glass's estimator of effect size and related
    estimators. *J Educ Stat* 1981;6:107-128.

    Hedges LV, Olkin I. *Statistical Methods for Meta-Analysis*. Academic Press, 1985.

    Feingold A. Effect sizes for growth-modeling analysis for controlled clinical trials in
    the same metric as for classical analysis. *Psychol Methods* 2009;14:43-53 (the model-based
    difference over the baseline SD).
    """
    trial = as_trial(config)
    if trial.is_multi_arm:  # each comparison on its two arms' participants, with its contrasts
        return per_comparison(trial, contrasts, lambda pair, rows: effect_sizes(
            pair_rows(analysis, pair.comparisons[0]), rows, pair))
    reference_arm, treatment_arm, alpha = trial.reference, trial.treatment, trial.alpha
    mmrm = contrasts[contrasts["model"] == "mmrm"]
    rows, notes = [], []
    for outcome in trial.efficacy_outcomes:
        name = outcome.name
        rows_outcome = analysis[analysis["outcome"] == name]
        in_model = model_frame(analysis, name, trial.config).drop_duplicates("participant")
        in_model = in_model[in_model["baseline"].notna()]
        base_reference = in_model.loc[in_model["arm"] == reference_arm, "baseline"].to_numpy(dtype=float)
        base_treatment = in_model.loc[in_model["arm"] == treatment_arm, "baseline"].to_numpy(dtype=float)
        n_ref_model, n_trt_model = len(base_reference), len(base_treatment)
        baseline_sd = pooled_sd(base_reference, base_treatment)
        j_model = hedges_correction(n_ref_model, n_trt_model)
        sd_problem = _sd_problem(baseline_sd, n_ref_model, n_trt_model, "baseline score of the participants in the MMRM")
        measured = set(rows_outcome.loc[rows_outcome["score"].notna() & rows_outcome["visit"].isin(trial.post_baseline),
                                        "visit"])
        visits = [v for v in trial.post_baseline if v in measured]
        if not visits:  # baseline only: rows at the key visits say why
            reason = not_estimable(f"{name} has no post-baseline score")
            for visit in trial.key_visits:
                for method, source in (("mmrm_over_baseline_sd", SD_SOURCE_BASELINE),
                                       ("observed_change", SD_SOURCE_CHANGE)):
                    rows.append({"outcome": name, "visit": visit, "method": method, "sd_source": source,
                                 "sd": np.nan, "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
                                 "n_reference": 0, "n_treatment": 0})
                    notes.append(reason)
            continue
        for visit in visits:
            found = mmrm[(mmrm["outcome"] == name) & (mmrm["visit"] == visit)]
            contrast_problem = _contrast_problem(found, name, visit)
            if sd_problem is None and contrast_problem is None:
                contrast = found.iloc[0]
                scaled = [float(contrast[c]) / baseline_sd * j_model for c in ("estimate", "ci_lower", "ci_upper")]
                notes.append("")
            else:
                scaled = [np.nan, np.nan, np.nan]
                notes.append(not_estimable(contrast_problem or sd_problem))
            rows.append({"outcome": name, "visit": visit, "method": "mmrm_over_baseline_sd",
                         "sd_source": SD_SOURCE_BASELINE, "sd": baseline_sd, "estimate": scaled[0],
                         "ci_lower": scaled[1], "ci_upper": scaled[2],
                         "n_reference": n_ref_model, "n_treatment": n_trt_model})

            at_visit = rows_outcome[(rows_outcome["visit"] == visit) & rows_outcome["change"].notna()]
            change_reference = at_visit.loc[at_visit["arm"] == reference_arm, "change"].to_numpy(dtype=float)
            change_treatment = at_visit.loc[at_visit["arm"] == treatment_arm, "change"].to_numpy(dtype=float)
            g, lower, upper, change_sd = hedges_g(change_treatment, change_reference, alpha=alpha)
            problem = _sd_problem(change_sd, len(change_reference), len(change_treatment),
                                  f"change from baseline at {visit}")
            notes.append(not_estimable(problem) if problem else "")
            rows.append({"outcome": name, "visit": visit, "method": "observed_change",
                         "sd_source": SD_SOURCE_CHANGE, "sd": change_sd, "estimate": g,
                         "ci_lower": lower, "ci_upper": upper,
                         "n_reference": len(change_reference), "n_treatment": len(change_treatment)})
    table = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    for column in ("sd", "estimate", "ci_lower", "ci_upper"):
        table[column] = table[column].astype(float)
    for column in ("n_reference", "n_treatment"):
        table[column] = table[column].astype(int)
    return with_note(table, notes)


def _sd_problem(sd: float, n_reference: int, n_treatment: int, what: str) -> str | None:
    """Why a standardizer cannot be used (None when it can)."""
    if min(n_reference, n_treatment) < 2:
        return (f"fewer than two participants with a {what} in an arm "
                f"({n_reference} reference, {n_treatment} treatment)")
    if not (np.isfinite(sd) and sd > 0):
        return f"the {what} does not vary within the arms (pooled SD 0)"
    return None


def _contrast_problem(found: pd.DataFrame, outcome: str, visit: str) -> str | None:
    """Why the MMRM contrast of ``outcome`` at ``visit`` cannot be scaled (None when it can)."""
    if found.empty:
        return f"no MMRM contrast of {outcome} at {visit}"
    contrast = found.iloc[0]
    if all(np.isfinite(float(contrast[c])) for c in ("estimate", "ci_lower", "ci_upper")):
        return None
    note = contrast.get("note") if "note" in found.columns else None
    reason = f"the MMRM contrast of {outcome} at {visit} has no estimate"
    return f"{reason} ({reason_of(note)})" if reason_of(note) else reason
