"""Responder and remission analysis: proportions, risk difference, odds ratio, Fisher's exact
test and the number needed to treat, per efficacy outcome and key visit.

Definitions (each outcome x key visit):

* **response** -- improvement from baseline of at least ``analysis.responder_improvement``
  (e.g. 0.3 = 30%) of the baseline score;
* **remission** -- score strictly below ``outcomes[].remission_below`` (only for outcomes that
  set it).

The denominator is the participants observed at the visit (a complete-case, observed-data
analysis); the number of randomized participants with no score at the visit is reported next
to it, never counted as non-responders.

Three or more arms: the table of each comparison on its two arms' participants
(:func:`pilottrial.analyses.common.by_comparison`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from pilottrial.analyses.common import as_trial, by_comparison, not_estimable

__all__ = ["responder_table", "compare_proportions", "number_needed_to_treat", "is_responder",
           "RESPONDER_COLUMNS"]

RESPONDER_COLUMNS = ["outcome", "visit", "definition", "threshold",
                     "n_treatment", "N_treatment", "pct_treatment", "n_reference", "N_reference", "pct_reference",
                     "risk_difference", "rd_ci_lower", "rd_ci_upper", "odds_ratio", "or_ci_lower", "or_ci_upper",
                     "fisher_p", "nnt", "nnt_ci_lower", "nnt_ci_upper", "nnt_note",
                     "missing_treatment", "missing_reference", "or_note"]

#: relative tolerance of the response threshold, so that 7 counts as a 30% improvement on 10
#: although 0.3 * 10 = 3.0000000000000004 in floating point.
_TOLERANCE = 1e-9


def is_responder(baseline, score, improvement: float, better: str = "lower") -> np.ndarray:
    """Response indicator: improvement from baseline of at least ``improvement`` x baseline.

    Parameters
    ----------
    baseline, score : array_like
        Baseline and post-baseline scores of the same participants.
    improvement : float
        The fraction of the baseline score :math:`r` (0.3 = 30%).
    better : {"lower", "higher"}, default "lower"
        Direction of improvement.

    Returns
    -------
    numpy.ndarray of bool

    Notes
    -----
    .. math::

        \\text{improvement} = \\begin{cases} \\text{baseline} - \\text{score} & \\text{better = lower}\\\\
        \\text{score} - \\text{baseline} & \\text{better = higher}\\end{cases}, \\qquad
        \\text{response} \\iff \\text{improvement} \\ge r \\cdot \\text{baseline} \\;\\text{and}\\;
        \\text{baseline} > 0.

    A participant with baseline 0 (or below) is not a responder: a relative improvement is
    not defined. The comparison allows a relative floating-point tolerance of 1e-9.
    Missing scores give ``False``; filter them out first.

    References
    ----------
    Zimmerman M et al. (2004). Defining remission on the Montgomery-Asberg depression rating
    scale. J Clin Psychiatry 65:163-168 (relative-improvement definitions of response).

    Examples
    --------
    >>> is_responder([40, 40, 10], [28, 29, 7], 0.3).tolist()
    [True, False, True]
    """
    baseline = np.asarray(baseline, dtype=float)
    score = np.asarray(score, dtype=float)
    gain = baseline - score if better == "lower" else score - baseline
    needed = improvement * baseline
    return (baseline > 0) & (gain >= needed - _TOLERANCE * np.abs(needed))


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def number_needed_to_treat(risk_difference: float, rd_ci_lower: float, rd_ci_upper: float) -> dict:
    """Number needed to treat from a risk difference and its confidence interval (Altman 1998).

    Parameters
    ----------
    risk_difference, rd_ci_lower, rd_ci_upper : float
        Treatment minus reference difference in proportions and its interval.

    Returns
    -------
    dict
        ``nnt, nnt_ci_lower, nnt_ci_upper, nnt_note``.

    Notes
    -----
    Signed convention: ``nnt = 1 / RD``, positive = NNTB (number needed to treat for one more
    responder with treatment than with reference), negative = NNTH (number needed to treat for
    one fewer responder, i.e. harm). Always ``nnt_ci_lower = 1 / rd_ci_upper`` and
    ``nnt_ci_upper = 1 / rd_ci_lower``:

    * RD interval above 0: both bounds positive, NNTB ``nnt_ci_lower`` to ``nnt_ci_upper``;
    * RD interval below 0: both negative, NNTH ``|nnt_ci_upper|`` to ``|nnt_ci_lower|``;
    * RD interval includes 0: the NNT interval is in two pieces through infinity, NNTB
      ``nnt_ci_lower`` to infinity to NNTH ``|nnt_ci_upper|`` -- then
      ``nnt_ci_lower > 0 > nnt_ci_upper`` and ``nnt_note`` spells it out.

    A quantity that would be infinite (RD or a bound exactly 0) is NaN and the note says
    "infinity".

    References
    ----------
    Altman DG. Confidence intervals for the number needed to treat. *BMJ* 1998;317:1309-1312.

    Examples
    --------
    >>> number_needed_to_treat(0.2, -0.05, 0.4)["nnt_note"]
    'NNTB 5.0; CI: NNTB 2.5 to infinity to NNTH 20.0'
    """
    def inverse(x):
        return 1.0 / x if np.isfinite(x) and x != 0 else np.nan

    if not all(np.isfinite([risk_difference, rd_ci_lower, rd_ci_upper])):
        return {"nnt": np.nan, "nnt_ci_lower": np.nan, "nnt_ci_upper": np.nan,
                "nnt_note": "not estimable: no risk difference"}
    nnt, lower, upper = inverse(risk_difference), inverse(rd_ci_upper), inverse(rd_ci_lower)
    if risk_difference > 0:
        point = f"NNTB {_fmt(nnt)}"
    elif risk_difference < 0:
        point = f"NNTH {_fmt(-nnt)}"
    else:
        point = "RD 0: NNT infinite"
    if rd_ci_lower > 0:
        interval = f"CI: NNTB {_fmt(lower)} to {_fmt(upper)}"
    elif rd_ci_upper < 0:
        interval = f"CI: NNTH {_fmt(-upper)} to {_fmt(-lower)}"
    else:  # the RD interval includes 0 (Altman 1998): two pieces through infinity
        benefit = f"NNTB {_fmt(lower)}" if np.isfinite(lower) else None
        harm = f"NNTH {_fmt(-upper)}" if np.isfinite(upper) else None
        interval = "CI: " + " to ".join(p for p in (benefit, "infinity", harm) if p)
    return {"nnt": nnt, "nnt_ci_lower": lower, "nnt_ci_upper": upper, "nnt_note": f"{point}; {interval}"}


def compare_proportions(n_treatment: int, N_treatment: int, n_reference: int, N_reference: int,
                        alpha: float = 0.05) -> dict:
    r"""Risk difference (Newcombe), odds ratio (Gart adjusted logit), Fisher's exact p and NNT
    of ``n_treatment / N_treatment`` versus ``n_reference / N_reference``.

    Parameters
    ----------
    n_treatment, N_treatment, n_reference, N_reference : int
        Events and participants in each arm.
    alpha : float, default 0.05
        Intervals are 100(1 - alpha)%.

    Returns
    -------
    dict
        ``pct_treatment, pct_reference, risk_difference, rd_ci_lower, rd_ci_upper,
        odds_ratio, or_ci_lower, or_ci_upper, or_note, fisher_p`` and the keys of
        :func:`number_needed_to_treat`. Everything is NaN (with a note) when an arm has no
        participant observed.

    Notes
    -----
    Risk difference :math:`\hat p_t - \hat p_r` with Newcombe's hybrid score interval,
    odds ratio :math:`ad/(bc)` with Gart's adjusted-logit interval (0.5 added to every cell;
    the Haldane-Anscombe estimate with a zero cell), two-sided Fisher exact p: see
    :func:`responder_table`, Notes, for the formulas.

    References
    ----------
    Newcombe RG. Interval estimation for the difference between independent proportions:
    comparison of eleven methods. *Stat Med* 1998;17:873-890.
    Gart JJ. Alternative analyses of contingency tables. *J R Stat Soc B* 1966;28:164-179.

    Examples
    --------
    >>> result = compare_proportions(9, 12, 4, 12)
    >>> round(result["risk_difference"], 4), round(result["rd_ci_lower"], 4), round(result["fisher_p"], 4)
    (0.4167, 0.0218, 0.0995)
    >>> result["nnt_note"]
    'NNTB 2.4; CI: NNTB 1.5 to 45.8'
    """
    out = {key: np.nan for key in ("pct_treatment", "pct_reference", "risk_difference", "rd_ci_lower",
                                   "rd_ci_upper", "odds_ratio", "or_ci_lower", "or_ci_upper", "fisher_p")}
    if N_treatment == 0 or N_reference == 0:
        out.update(or_note="not estimable: no participant observed in an arm",
                   **number_needed_to_treat(np.nan, np.nan, np.nan))
        return out
    p_t, p_r = n_treatment / N_treatment, n_reference / N_reference
    rd_lower, rd_upper = confint_proportions_2indep(n_treatment, N_treatment, n_reference, N_reference,
                                                    method="newcomb", compare="diff", alpha=alpha)
    out.update(pct_treatment=100.0 * p_t, pct_reference=100.0 * p_r, risk_difference=p_t - p_r,
               rd_ci_lower=float(rd_lower), rd_ci_upper=float(rd_upper))
    table = [[n_treatment, N_treatment - n_treatment], [n_reference, N_reference - n_reference]]
    out["fisher_p"] = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    cells = [n_treatment, N_treatment - n_treatment, n_reference, N_reference - n_reference]
    if (n_treatment + n_reference == 0) or (n_treatment + n_reference == N_treatment + N_reference):
        out["or_note"] = "not estimable: no responder, or all responders, in both arms"
    else:
        or_lower, or_upper = confint_proportions_2indep(n_treatment, N_treatment, n_reference, N_reference,
                                                        method="logit-adjusted", compare="odds-ratio", alpha=alpha)
        out.update(or_ci_lower=float(or_lower), or_ci_upper=float(or_upper))
        if min(cells) == 0:
            a, b, c, d = (x + 0.5 for x in cells)
            out["odds_ratio"] = (a * d) / (b * c)
            out["or_note"] = ("zero cell: Haldane-Anscombe OR (0.5 added to each cell); "
                              "CI Gart adjusted logit")
        else:
            out["odds_ratio"] = (cells[0] * cells[3]) / (cells[1] * cells[2])
            out["or_note"] = "sample OR; CI Gart adjusted logit (0.5 added to each cell)"
    out.update(number_needed_to_treat(out["risk_difference"], out["rd_ci_lower"], out["rd_ci_upper"]))
    return out


def responder_table(analysis: pd.DataFrame, config) -> pd.DataFrame:
    """Responders and remitters by arm, with risk difference, odds ratio, Fisher's p and NNT.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table of :func:`pilottrial.data.load_trial` (``participant, arm, visit,
        outcome, baseline, score, change``).
    config : dict or Trial
        Validated trial config; uses arms, ``visits.key``, ``outcomes[].role``,
        ``outcomes[].better``, ``outcomes[].remission_below``, ``analysis.responder_improvement``
        and ``analysis.alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per efficacy outcome x key visit x definition (``response``, then
        ``remission`` for outcomes with ``remission_below``), outcomes in config order and
        visits in key order; columns :data:`RESPONDER_COLUMNS`:

        * ``threshold`` -- the fraction of baseline (response) or the score cut-off (remission);
        * ``n_*`` responders, ``N_*`` participants observed at the visit (the denominator),
          ``pct_*`` = 100 n / N, ``missing_*`` participants of the arm in the analysis table with
          no score at the visit (for response: or no baseline score), so ``N + missing`` is the arm;
        * ``risk_difference`` = treatment minus reference proportion, Newcombe hybrid score CI;
        * ``odds_ratio`` (treatment vs reference) with the Gart adjusted-logit CI, ``or_note``
          saying which point estimate is shown;
        * ``fisher_p`` -- two-sided Fisher exact p;
        * ``nnt``, ``nnt_ci_lower``, ``nnt_ci_upper``, ``nnt_note`` -- see
          :func:`number_needed_to_treat` (positive NNTB, negative NNTH; never infinite).

        Comparisons that cannot be estimated have NaN and notes starting "not estimable:"; when
        an arm has nobody observed at the visit (e.g. an outcome without follow-up) both
        ``or_note`` and ``nnt_note`` name the arm and the visit.

        Three or more arms: these rows for each comparison (``trial.comparisons`` order, the
        comparison's reference in the ``*_reference`` columns) with a last column ``treatment``
        (``Comparison.name``).

    Notes
    -----
    *Response* (see :func:`is_responder`): improvement :math:`\\ge r \\times` baseline with
    :math:`r` = ``analysis.responder_improvement``; baseline 0 is never a response. Without a
    baseline visit (``analysis.response: raw`` and no ``visits.baseline``) there are no response
    rows.
    *Remission*: score :math:`<` ``remission_below`` (strictly below, as the config schema
    defines it, whatever the direction of ``better``).

    *Risk difference* :math:`\\hat\\delta = \\hat p_t - \\hat p_r` with Newcombe's hybrid score
    interval (method 10): with Wilson score limits :math:`(l_t, u_t)`, :math:`(l_r, u_r)`,

    .. math::

        \\left(\\hat\\delta - \\sqrt{(\\hat p_t - l_t)^2 + (u_r - \\hat p_r)^2},\\;
        \\hat\\delta + \\sqrt{(u_t - \\hat p_t)^2 + (\\hat p_r - l_r)^2}\\right),

    by ``statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb")``.

    *Odds ratio* :math:`\\widehat{OR} = ad/(bc)` (a, b responders/non-responders with treatment;
    c, d with reference). The interval is Gart's adjusted logit interval, 0.5 added to every
    cell (``method="logit-adjusted"``; one of the intervals reviewed by Fagerland et al. 2015),
    chosen because it stays finite with zero cells, which are common in pilot trials:

    .. math::

        \\exp\\Bigl\\{\\log\\frac{(a+\\tfrac12)(d+\\tfrac12)}{(b+\\tfrac12)(c+\\tfrac12)} \\pm
        z_{1-\\alpha/2}\\sqrt{\\textstyle\\sum 1/(x+\\tfrac12)}\\Bigr\\}.

    With a zero cell the sample OR is 0 or infinite, so the Haldane-Anscombe estimate (0.5
    added to each cell, the centre of the interval) is shown instead (``or_note`` says so).
    With no responder (or only responders) in both arms the OR is not estimable (NaN).

    *Fisher's exact test*: ``scipy.stats.fisher_exact``, two-sided (sum of the probabilities
    of tables no more likely than the observed one).

    *NNT* = :math:`1/\\hat\\delta`, interval :math:`1/\\text{upper}` to :math:`1/\\text{lower}`; when
    the RD interval includes 0 the NNT interval is NNTB :math:`1/u` to infinity to NNTH
    :math:`1/|l|` (Altman 1998).

    References
    ----------
    Newcombe RG. Interval estimation for the difference between independent proportions:
    comparison of eleven methods. *Stat Med* 1998;17:873-890.

    Gart JJ. Alternative analyses of contingency tables. *J R Stat Soc B* 1966;28:164-179.

    Fagerland MW, Lydersen S, Laake P. Recommended confidence intervals for two independent
    binomial proportions. *Stat Methods Med Res* 2015;24:224-254.

    Altman DG. Confidence intervals for the number needed to treat. *BMJ* 1998;317:1309-1312.

    Fisher RA. *The Design of Experiments*. Oliver & Boyd, 1935.
    """
    trial = as_trial(config)
    if trial.is_multi_arm:
        return by_comparison(trial, lambda pair, rows: responder_table(rows, pair), analysis)
    reference_arm, treatment_arm, alpha = trial.reference, trial.treatment, trial.alpha
    improvement = trial.section("analysis").get("responder_improvement", 0.3)
    rows = []
    for outcome in trial.efficacy_outcomes:
        name, better = outcome.name, outcome.better
        definitions = [("response", improvement)] if trial.baseline else []
        if outcome.remission_below is not None:
            definitions.append(("remission", float(outcome.remission_below)))
        for visit in trial.key_visits:
            at_visit = analysis[(analysis["outcome"] == name) & (analysis["visit"] == visit)]
            for definition, threshold in definitions:
                counts = {}
                for label, arm in (("treatment", treatment_arm), ("reference", reference_arm)):
                    rows_arm = at_visit[at_visit["arm"] == arm]
                    observed = rows_arm[rows_arm["score"].notna()]
                    if definition == "response":  # a relative improvement needs the baseline score too
                        observed = observed[observed["baseline"].notna()]
                        hits = is_responder(observed["baseline"], observed["score"], improvement, better)
                    else:
                        hits = observed["score"].to_numpy(dtype=float) < threshold
                    counts[f"n_{label}"] = int(np.sum(hits))
                    counts[f"N_{label}"] = int(len(observed))
                    counts[f"missing_{label}"] = int(len(rows_arm) - len(observed))
                comparison = compare_proportions(counts["n_treatment"], counts["N_treatment"],
                                                 counts["n_reference"], counts["N_reference"], alpha=alpha)
                empty = [arm for label, arm in (("reference", reference_arm), ("treatment", treatment_arm))
                         if counts[f"N_{label}"] == 0]
                if empty:  # say which arm, at which visit, in both notes
                    who = "either arm" if len(empty) == 2 else f"the {empty[0]} arm"
                    reason = not_estimable(f"no participant of {who} has a score at {visit}")
                    comparison.update(or_note=reason, nnt_note=reason)
                rows.append({"outcome": name, "visit": visit, "definition": definition,
                             "threshold": float(threshold), **counts, **comparison})
    table = pd.DataFrame(rows, columns=RESPONDER_COLUMNS)
    integer_columns = ["n_treatment", "N_treatment", "n_reference", "N_reference", "missing_treatment",
                       "missing_reference"]
    for column in RESPONDER_COLUMNS:
        if column in integer_columns:
            table[column] = table[column].astype(int)
        elif column not in ("outcome", "visit", "definition", "nnt_note", "or_note"):
            table[column] = table[column].astype(float)
    return table
