"""A Bayesian reading of the MMRM treatment contrasts: posterior probabilities of benefit.

Normal approximation to the likelihood of the treatment effect from the MMRM contrast
(estimate and standard error), combined with a flat prior and with a sceptical prior centred
on no effect (Spiegelhalter, Freedman & Parmar 1994). The output answers "how probable is it
that the treatment helps, and that it helps by more than the minimal clinically important
difference (MCID)?".

Three or more arms: the same rows for each comparison, from its MMRM contrast (unadjusted
for the other comparisons).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import as_trial, not_estimable, reason_of
from pilottrial.analyses.multiplicity import per_comparison

__all__ = ["posterior_table", "posterior_probabilities", "POSTERIOR_COLUMNS", "sceptical_prior_sd"]

POSTERIOR_COLUMNS = ["outcome", "visit", "prior", "prior_mean", "prior_sd", "posterior_mean", "posterior_sd",
                     "prob_benefit", "mcid", "prob_benefit_beyond_mcid", "approximation"]

#: :math:`z_{0.95}`: a N(0, s^2) prior with s = MCID / z_{0.95} puts 5% probability on a benefit beyond the MCID.
Z_95 = float(stats.norm.ppf(0.95))

_DF_NAMES = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger",
             "kenward-roger-linear": "Kenward-Roger (linear)"}


def sceptical_prior_sd(mcid: float | None = None, prior_sd: float | None = None) -> float:
    r"""SD of the sceptical prior :math:`N(0, s^2)` of a treatment effect.

    Parameters
    ----------
    mcid : float, optional
        Minimal clinically important difference :math:`\delta` (points, > 0).
    prior_sd : float, optional
        A chosen SD (``analysis.sceptical_prior_sd``); wins over ``mcid``.

    Returns
    -------
    float
        ``prior_sd`` when given, else :math:`s = \delta / z_{0.95}` (``mcid / 1.645``), else
        NaN (no prior can be formed).

    Notes
    -----
    With :math:`s = \delta / z_{0.95}` the prior puts 5% probability on a benefit beyond the
    MCID, :math:`P(\theta < -\delta) = 0.05` (Spiegelhalter, Freedman & Parmar 1994).

    References
    ----------
    Spiegelhalter DJ, Freedman LS, Parmar MKB. Bayesian approaches to randomized trials.
    *J R Stat Soc A* 1994;157:357-416.

    Examples
    --------
    >>> round(sceptical_prior_sd(mcid=10), 3)
    6.08
    """
    if prior_sd is not None:
        return float(prior_sd)
    if mcid is not None and mcid > 0:
        return float(mcid) / Z_95
    return np.nan


def _benefit_probability(distribution, threshold: float, lower_is_better: bool) -> float:
    """P(effect < -threshold) when lower is better, P(effect > threshold) when higher is better."""
    return float(distribution.cdf(-threshold)) if lower_is_better else float(distribution.sf(threshold))


def _posterior_rows(estimate, std_error, df, better, mcid, prior_sd, df_name, reason=None) -> list:
    """The flat and the sceptical row of :func:`posterior_probabilities` (dicts); ``reason`` says
    why the contrast has no estimate, SE or df (default: that it has none)."""
    lower_is_better = better == "lower"
    mcid = float(mcid) if mcid is not None else np.nan
    s = sceptical_prior_sd(None if np.isnan(mcid) else mcid, prior_sd)
    s_source = "analysis.sceptical_prior_sd" if prior_sd is not None else "mcid / 1.645"
    estimate, se, df = float(estimate), float(std_error), float(df)
    estimable = np.isfinite(estimate) and np.isfinite(se) and se > 0 and np.isfinite(df) and df > 0
    base = {"mcid": mcid}
    missing = not_estimable(reason or "the MMRM contrast has no estimate, SE or df")

    flat = dict(base, prior="flat", prior_mean=np.nan, prior_sd=np.nan)
    if estimable:
        posterior = stats.t(df=df, loc=estimate, scale=se)
        flat.update(posterior_mean=estimate, posterior_sd=se,
                    prob_benefit=_benefit_probability(posterior, 0.0, lower_is_better),
                    prob_benefit_beyond_mcid=(_benefit_probability(posterior, mcid, lower_is_better)
                                              if np.isfinite(mcid) else np.nan),
                    approximation=f"flat prior, posterior = normal likelihood N(estimate, SE^2); "
                                  f"t reference with {df_name} df")
    else:
        flat.update(posterior_mean=np.nan, posterior_sd=np.nan, prob_benefit=np.nan,
                    prob_benefit_beyond_mcid=np.nan, approximation=missing)

    sceptical = dict(base, prior="sceptical", prior_mean=0.0, prior_sd=s)
    if not np.isfinite(s):
        sceptical.update(prior_mean=np.nan, posterior_mean=np.nan, posterior_sd=np.nan, prob_benefit=np.nan,
                         prob_benefit_beyond_mcid=np.nan,
                         approximation="not computed: the outcome has no mcid and "
                                       "analysis.sceptical_prior_sd is not set")
    elif not estimable:
        sceptical.update(posterior_mean=np.nan, posterior_sd=np.nan, prob_benefit=np.nan,
                         prob_benefit_beyond_mcid=np.nan, approximation=missing)
    else:
        precision = 1.0 / s**2 + 1.0 / se**2
        posterior_sd = float(np.sqrt(1.0 / precision))
        posterior_mean = float((estimate / se**2) / precision)
        posterior = stats.norm(loc=posterior_mean, scale=posterior_sd)
        sceptical.update(posterior_mean=posterior_mean, posterior_sd=posterior_sd,
                         prob_benefit=_benefit_probability(posterior, 0.0, lower_is_better),
                         prob_benefit_beyond_mcid=(_benefit_probability(posterior, mcid, lower_is_better)
                                                   if np.isfinite(mcid) else np.nan),
                         approximation=f"sceptical prior N(0, s^2), s = {s_source}; normal likelihood "
                                       f"N(estimate, SE^2); conjugate normal posterior")
    return [flat, sceptical]


def _float_columns(table: pd.DataFrame) -> pd.DataFrame:
    for column in table.columns:
        if column not in ("outcome", "visit", "prior", "approximation"):
            table[column] = table[column].astype(float)
    return table


def posterior_probabilities(estimate: float, std_error: float, df: float, *, better: str = "lower",
                            mcid: float | None = None, prior_sd: float | None = None,
                            df_name: str = "Satterthwaite") -> pd.DataFrame:
    r"""Posterior of a treatment effect under a flat and a sceptical prior.

    Parameters
    ----------
    estimate, std_error, df : float
        The treatment minus reference estimate :math:`\hat\theta`, its standard error and
        degrees of freedom :math:`\nu` (e.g. an MMRM contrast).
    better : {"lower", "higher"}, default "lower"
        Direction of benefit: an effect below 0 is a benefit when lower is better.
    mcid : float, optional
        Minimal clinically important difference :math:`\delta` (points).
    prior_sd : float, optional
        SD of the sceptical prior; default :math:`\delta / z_{0.95}`
        (:func:`sceptical_prior_sd`).
    df_name : str, default "Satterthwaite"
        Name of the df method, for ``approximation``.

    Returns
    -------
    pandas.DataFrame
        Two rows (``prior`` ``"flat"`` then ``"sceptical"``) with the columns of
        :data:`POSTERIOR_COLUMNS` after ``outcome`` and ``visit``; see
        :func:`posterior_table` for their meaning.

    Notes
    -----
    The likelihood is approximated by :math:`\hat\theta \mid \theta \sim N(\theta, \mathrm{SE}^2)`.
    *Flat prior*: :math:`(\theta - \hat\theta)/\mathrm{SE} \sim t_\nu`, so that for a
    lower-is-better outcome :math:`P(\theta < 0) = F_{t_\nu}(-\hat\theta/\mathrm{SE})`.
    *Sceptical prior* :math:`\theta \sim N(0, s^2)`: conjugate normal update
    :math:`1/\sigma_{post}^2 = 1/s^2 + 1/\mathrm{SE}^2`,
    :math:`\mu_{post} = \sigma_{post}^2\,\hat\theta/\mathrm{SE}^2`, and normal probabilities.

    References
    ----------
    Spiegelhalter DJ, Freedman LS, Parmar MKB. Bayesian approaches to randomized trials.
    *J R Stat Soc A* 1994;157:357-416.

    Examples
    --------
    >>> table = posterior_probabilities(-12.0, 4.0, 22.0, mcid=10)
    >>> table[["prior", "posterior_mean", "prob_benefit", "prob_benefit_beyond_mcid"]].round(3)
           prior  posterior_mean  prob_benefit  prob_benefit_beyond_mcid
    0       flat         -12.000         0.997                     0.689
    1  sceptical          -8.375         0.994                     0.313
    """
    rows = _posterior_rows(estimate, std_error, df, better, mcid, prior_sd, df_name)
    return _float_columns(pd.DataFrame(rows, columns=POSTERIOR_COLUMNS[2:]))


def posterior_table(contrasts: pd.DataFrame, config) -> pd.DataFrame:
    """Posterior of the treatment effect under a flat and a sceptical prior, per outcome x key visit.

    Parameters
    ----------
    contrasts : pandas.DataFrame
        Treatment contrasts as returned by :func:`pilottrial.models.primary.primary_contrasts`
        (``outcome, model, visit, estimate, std_error, df, ...``). Only ``model == "mmrm"`` rows
        at ``visits.key`` of efficacy outcomes are used; with three or more arms, those of each
        comparison (``treatment`` column of ``contrasts.csv``).
    config : dict or Trial
        Validated trial config; uses ``outcomes[].better``, ``outcomes[].mcid``,
        ``outcomes[].role``, ``visits.key``, ``analysis.sceptical_prior_sd`` and
        ``analysis.df_method`` (named in ``approximation``).

    Returns
    -------
    pandas.DataFrame
        Two rows per efficacy outcome x key visit (outcomes in config order, visits in key
        order, ``prior`` ``"flat"`` then ``"sceptical"``), columns :data:`POSTERIOR_COLUMNS`:

        * ``prior_mean``, ``prior_sd`` -- NaN for the flat prior; 0 and :math:`s` for the
          sceptical prior;
        * ``posterior_mean``, ``posterior_sd`` -- of the treatment effect (treatment minus
          reference difference in mean change);
        * ``prob_benefit`` -- posterior probability that the effect favours treatment
          (effect < 0 when ``better: lower``, > 0 when ``better: higher``);
        * ``mcid`` and ``prob_benefit_beyond_mcid`` -- probability of a benefit larger than the
          MCID (effect < -MCID, or > MCID); NaN when the outcome has no ``mcid``;
        * ``approximation`` -- how the posterior was computed, or why the row is empty:
          "not estimable: <reason>" when the MMRM contrast has no estimate, SE or df, or
          the outcome has no contrast at any key visit (e.g. no follow-up: then it has
          such rows at every key visit), "not computed: ..." when no sceptical prior is
          defined.

        When the outcome has no ``mcid`` and ``analysis.sceptical_prior_sd`` is not set, the
        sceptical row is kept (so that every outcome has two rows) with NaN numbers and an
        ``approximation`` saying it was not computed.

        Three or more arms: these rows for each comparison (``trial.comparisons`` order) with a
        last column ``treatment`` (``Comparison.name``); the likelihood is the comparison's
        unadjusted contrast (estimate, SE, df).

    Notes
    -----
    The likelihood of the effect :math:`\\theta` is approximated by
    :math:`\\hat\\theta \\mid \\theta \\sim N(\\theta, \\mathrm{SE}^2)` with the MMRM estimate and
    standard error.

    *Flat prior.* The posterior is the likelihood, :math:`\\theta \\mid \\text{data} \\sim
    N(\\hat\\theta, \\mathrm{SE}^2)`; to carry the small-sample uncertainty in the variance
    parameters the probabilities use the t reference with the MMRM's (Satterthwaite) degrees of
    freedom :math:`\\nu`: :math:`(\\theta - \\hat\\theta)/\\mathrm{SE} \\sim t_\\nu`, so that
    for a lower-is-better outcome

    .. math::

        P(\\theta < 0) = F_{t_\\nu}\\!\\left(\\frac{-\\hat\\theta}{\\mathrm{SE}}\\right), \\qquad
        P(\\theta < -\\delta) = F_{t_\\nu}\\!\\left(\\frac{-\\delta-\\hat\\theta}{\\mathrm{SE}}\\right),

    the one-sided p-value's complement (:math:`P(\\theta < 0) = 1 - p_{\\text{one-sided}}`).

    *Sceptical prior* :math:`\\theta \\sim N(0, s^2)` with :math:`s` =
    ``analysis.sceptical_prior_sd`` or :math:`s = \\delta / z_{0.95} = \\delta/1.645`, for which
    the prior probability of a benefit beyond the MCID :math:`\\delta` is 5%
    (Spiegelhalter et al. 1994). Conjugate normal update:

    .. math::

        \\frac{1}{\\sigma_{post}^2} = \\frac{1}{s^2} + \\frac{1}{\\mathrm{SE}^2}, \\qquad
        \\mu_{post} = \\sigma_{post}^2 \\, \\frac{\\hat\\theta}{\\mathrm{SE}^2},

    and the probabilities are normal: :math:`P(\\theta < 0) = \\Phi(-\\mu_{post}/\\sigma_{post})`.
    For ``better: higher`` the inequalities are reversed (:math:`\\theta > 0`,
    :math:`\\theta > \\delta`).

    References
    ----------
    Spiegelhalter DJ, Freedman LS, Parmar MKB. Bayesian approaches to randomized trials.
    *J R Stat Soc A* 1994;157:357-416.

    Spiegelhalter DJ, Abrams KR, Myles JP. *Bayesian Approaches to Clinical Trials and
    Health-Care Evaluation*. Wiley, 2004.

    Examples
    --------
    >>> import pandas as pd
    >>> config = {"visits": {"key": ["30d"]}, "analysis": {"sceptical_prior_sd": None},
    ...           "outcomes": [{"name": "CAPS-5", "better": "lower", "role": "efficacy", "mcid": 10}]}
    >>> contrasts = pd.DataFrame({"outcome": ["CAPS-5"], "model": "mmrm", "visit": "30d",
    ...                           "estimate": -12.0, "std_error": 4.0, "df": 22.0})
    >>> posterior_table(contrasts, config)[["prior", "posterior_mean", "prob_benefit"]].round(3)
           prior  posterior_mean  prob_benefit
    0       flat         -12.000         0.997
    1  sceptical          -8.375         0.994
    """
    trial = as_trial(config)
    if trial.is_multi_arm:
        return per_comparison(trial, contrasts, lambda pair, rows: posterior_table(rows, pair))
    settings = trial.section("analysis")
    df_name = _DF_NAMES.get(settings.get("df_method", "satterthwaite"), "Satterthwaite")
    prior_sd = settings.get("sceptical_prior_sd")
    mmrm = contrasts[contrasts["model"] == "mmrm"]
    rows = []
    for outcome in trial.efficacy_outcomes:
        # an outcome with no contrast at any key visit (e.g. no follow-up) keeps rows that say why;
        # one measured at some key visits only has rows at those
        has_any = mmrm["outcome"].eq(outcome.name).any() and mmrm.loc[
            mmrm["outcome"] == outcome.name, "visit"].isin(trial.key_visits).any()
        for visit in trial.key_visits:
            found = mmrm[(mmrm["outcome"] == outcome.name) & (mmrm["visit"] == visit)]
            if found.empty and has_any:
                continue
            if found.empty:
                numbers = (np.nan, np.nan, np.nan)
                reason = f"no MMRM contrast of {outcome.name} at {visit}"
            else:
                contrast = found.iloc[0]
                numbers = (contrast["estimate"], contrast["std_error"], contrast["df"])
                note = contrast.get("note") if "note" in found.columns else None
                reason = (f"the MMRM contrast has no estimate, SE or df ({reason_of(note)})"
                          if reason_of(note) else None)
            rows += [{"outcome": outcome.name, "visit": visit} | row
                     for row in _posterior_rows(*numbers, outcome.better, outcome.mcid, prior_sd, df_name, reason)]
    return _float_columns(pd.DataFrame(rows, columns=POSTERIOR_COLUMNS))
