r"""Feasibility of a pilot trial (CONSORT extension to pilot and feasibility trials).

:func:`feasibility_table` turns the screening log (or screening counts from the config) and
the analysis table into one long table of feasibility measures -- screening, eligibility,
consent/randomization, recruitment per month, receipt of the intervention, retention at each
visit and data completeness -- each with its numerator, denominator, proportion and Wilson
interval. :func:`progression_table` reads the pre-specified progression criteria
(``feasibility.progression_criteria``) against that table.

References
----------
Eldridge SM, Chan CL, Campbell MJ, et al. CONSORT 2010 statement: extension to randomised
pilot and feasibility trials. BMJ 2016;355:i5239.
Avery KNL, Williamson PR, Gamble C, et al. Informing efficient randomised controlled trials:
exploration of challenges in developing progression criteria for internal pilot studies.
BMJ Open 2017;7:e013537.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from pilottrial.analyses.common import as_trial, not_estimable, reason_of, with_note
from pilottrial.errors import InputError

__all__ = [
    "FEASIBILITY_COLUMNS",
    "PROGRESSION_COLUMNS",
    "OVERALL",
    "read_screening_log",
    "wilson_interval",
    "poisson_rate_interval",
    "feasibility_table",
    "progression_table",
    "check_progression_criteria",
]

#: Columns of :func:`feasibility_table`.
FEASIBILITY_COLUMNS = ["measure", "arm", "visit", "numerator", "denominator", "proportion", "ci_lower",
                       "ci_upper", "value", "note"]
#: Columns of :func:`progression_table`.
PROGRESSION_COLUMNS = ["name", "metric", "visit", "threshold", "observed", "ci_lower", "ci_upper", "met",
                       "met_with_confidence"]
#: Arm label of rows over both arms.
OVERALL = "all"

_PROPORTION_METRICS = {"retention", "completeness", "eligibility_rate", "consent_rate"}
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_MISSING = ["", "NA", "NaN", "nan", "."]
_NO_SCREENING = not_estimable("no screening data: configure feasibility.screening_log or feasibility.counts")
_INFUSION_NOTE = ("assumed: every randomized participant with a baseline assessment received the "
                  "intervention (no dosing record)")


# --------------------------------------------------------------------------- intervals


def wilson_interval(count, nobs, alpha: float = 0.05) -> tuple[float, float]:
    r"""Wilson score interval of a proportion.

    Parameters
    ----------
    count, nobs : int
        Successes and trials.
    alpha : float, default 0.05
        Two-sided level.

    Returns
    -------
    tuple of float
        ``(lower, upper)``; NaN when ``nobs`` is 0 or missing.

    Notes
    -----
    With :math:`\hat p = x/n` and :math:`z = z_{1-\alpha/2}`,

    .. math::

        \frac{\hat p + z^2/(2n) \pm z \sqrt{\hat p(1-\hat p)/n + z^2/(4n^2)}}{1 + z^2/n},

    computed from the formula with :math:`z` from ``scipy.special.ndtri`` (the figure job that
    draws these intervals needs nothing else of scipy.stats or statsmodels, whose import would
    cost it half a second), and 0 and 1 exactly at x = 0 and x = n; the tests check it against
    statsmodels' ``proportion_confint(method="wilson")`` to 1e-12. For 81/263 the 95% interval is 0.2553 to 0.3662 (Newcombe 1998, Table I).

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference. J Am
    Stat Assoc 1927;22:209-212. Newcombe RG. Two-sided confidence intervals for the single
    proportion: comparison of seven methods. Stat Med 1998;17:857-872.

    Examples
    --------
    >>> [round(limit, 4) for limit in wilson_interval(81, 263)]
    [0.2553, 0.3662]
    """
    if nobs is None or not np.isfinite(nobs) or nobs <= 0 or count is None or not np.isfinite(count):
        return (np.nan, np.nan)
    from scipy.special import ndtri  # here: reading the screening log needs no statistics

    n, p = float(nobs), float(count) / float(nobs)
    z = float(ndtri(1.0 - alpha / 2.0))
    centre, denominator = p + z * z / (2.0 * n), 1.0 + z * z / n
    half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    lo, hi = (centre - half) / denominator, (centre + half) / denominator
    # exact limits at the boundaries (the formula gives them up to rounding)
    lo = 0.0 if count == 0 else min(max(float(lo), 0.0), 1.0)
    hi = 1.0 if count == nobs else min(max(float(hi), 0.0), 1.0)
    return (lo, hi)


def poisson_rate_interval(count, exposure, alpha: float = 0.05) -> tuple[float, float]:
    r"""Exact (Garwood) interval of a Poisson rate ``count / exposure``.

    Parameters
    ----------
    count : int
        Events :math:`x`.
    exposure : float
        Exposure :math:`T` (e.g. months of recruitment).
    alpha : float, default 0.05
        Two-sided level.

    Returns
    -------
    tuple of float
        ``(lower, upper)`` of the rate; NaN when the exposure is 0 or missing.

    Notes
    -----
    .. math::

        \left[\tfrac{1}{2}\chi^2_{\alpha/2,\,2x},\ \tfrac{1}{2}\chi^2_{1-\alpha/2,\,2x+2}\right] / T,

    with lower limit 0 when :math:`x = 0`. Used for the mean number randomized per month.

    References
    ----------
    Garwood F. Fiducial limits for the Poisson distribution. Biometrika 1936;28:437-442.

    Examples
    --------
    >>> [round(limit, 3) for limit in poisson_rate_interval(27, 12)]
    [1.483, 3.274]
    """
    if exposure is None or not np.isfinite(exposure) or exposure <= 0 or not np.isfinite(count):
        return (np.nan, np.nan)
    from scipy import stats

    lo = 0.0 if count == 0 else stats.chi2.ppf(alpha / 2, 2 * count) / 2
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return (float(lo / exposure), float(hi / exposure))


# --------------------------------------------------------------------------- screening log


def _lines(index) -> list:
    return sorted({int(i) + 2 for i in index})


def _yes_no(frame, column, path):
    text = frame[column].str.strip().str.lower()
    bad = ~text.isin(_YES | _NO)
    if bad.any():
        raise InputError(f"{column} value {frame.loc[bad, column].iloc[0]!r} is not yes or no", file=path,
                         rows=_lines(frame.index[bad]), column=column, fix="write yes or no on every row")
    return text.isin(_YES)


def read_screening_log(config) -> pd.DataFrame | None:
    """Read and check ``feasibility.screening_log``; ``None`` when it is not configured.

    Parameters
    ----------
    config : dict or Trial
        Validated config.

    Returns
    -------
    pandas.DataFrame or None
        One row per person screened: ``month`` (str, ``YYYY-MM``), ``eligible`` and
        ``randomized`` (bool) and ``reason`` (str, may be missing). Other columns (e.g. an
        opaque ``screening_id``) are ignored.

    Raises
    ------
    InputError
        File missing or empty; a column ``month``, ``eligible`` or ``randomized`` absent; a
        month not written ``YYYY-MM`` (full dates are refused: they identify people); a
        yes/no column with another value; someone randomized but not eligible.
    """
    spec = as_trial(config).section("feasibility").get("screening_log")
    if not spec:
        return None
    path = Path(spec["path"])
    if not path.is_file():
        raise InputError("screening log not found", file=path,
                         fix="check feasibility.screening_log.path in the config")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=_MISSING,
                            encoding="utf-8-sig", skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot be read as UTF-8 CSV ({str(exc).strip().splitlines()[-1]})", file=path,
                         fix="save it as comma-separated values (UTF-8) with one header line") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    needed = ["month", "eligible", "randomized"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        hints = [difflib.get_close_matches(c, list(frame.columns), n=1) for c in missing]
        hint = "; ".join(f"{c!r} may be {h[0]!r}" for c, h in zip(missing, hints) if h)
        raise InputError(f"column(s) {missing} are not in the screening log (found: {list(frame.columns)})",
                         file=path, column=missing[0],
                         fix=hint or "name the columns month, eligible, randomized (and reason)")
    for c in needed:
        blank = frame[c].isna()
        if blank.any():
            raise InputError(f"empty {c}", file=path, rows=_lines(frame.index[blank]), column=c,
                             fix=f"fill in {c} on every row, or delete empty rows")
    month = frame["month"].str.strip()
    bad = ~month.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])")
    if bad.any():
        raise InputError(f"month {frame.loc[bad, 'month'].iloc[0]!r} is not written YYYY-MM", file=path,
                         rows=_lines(frame.index[bad]), column="month",
                         fix="keep only the year and month (e.g. 2023-03): full dates identify people")
    eligible = _yes_no(frame, "eligible", path)
    randomized = _yes_no(frame, "randomized", path)
    wrong = randomized & ~eligible
    if wrong.any():
        raise InputError("randomized but not eligible", file=path, rows=_lines(frame.index[wrong]),
                         column="eligible", fix="correct eligible or randomized on these rows")
    reason = frame["reason"] if "reason" in frame.columns else pd.Series(np.nan, index=frame.index)
    return pd.DataFrame({"month": month.astype(str), "eligible": eligible.astype(bool),
                         "randomized": randomized.astype(bool), "reason": reason})


def _as_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.astype(str).str.strip().str.lower().isin(_YES)


def _month_number(label: str) -> int:
    year, month = label.split("-")
    return int(year) * 12 + int(month) - 1


# --------------------------------------------------------------------------- table


def _row(measure, arm=OVERALL, visit=None, numerator=np.nan, denominator=np.nan, alpha=0.05,
         value=None, note="", ci=None, is_proportion=True):
    if is_proportion and np.isfinite(numerator) and np.isfinite(denominator) and denominator > 0:
        proportion = numerator / denominator
        lo, hi = wilson_interval(numerator, denominator, alpha) if ci is None else ci
    else:
        proportion = np.nan
        lo, hi = (np.nan, np.nan) if ci is None else ci
    return {"measure": measure, "arm": arm, "visit": visit, "numerator": numerator, "denominator": denominator,
            "proportion": proportion, "ci_lower": lo, "ci_upper": hi,
            "value": proportion if value is None else value, "note": note}


def feasibility_table(analysis: pd.DataFrame, config, screening: pd.DataFrame | None = None) -> pd.DataFrame:
    r"""Feasibility measures as one long table.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table (``participant, arm, visit, outcome, baseline, score, change``).
    config : dict or Trial
        Validated config: arms, visits, outcomes, ``analysis.alpha`` and ``feasibility``.
    screening : pandas.DataFrame, optional
        The screening log (``month``, ``eligible``, ``randomized``; yes/no text or bool).
        When omitted it is read from ``feasibility.screening_log`` if configured; without a
        log, ``feasibility.counts`` (``screened``, ``eligible``) are used; without either,
        the screening measures are NaN with a note.

    Returns
    -------
    pandas.DataFrame
        :data:`FEASIBILITY_COLUMNS`, one row per measure x arm x visit, in this order
        (``arm`` is an arm -- every arm of ``Trial.arms``, in that order, however many -- or
        ``"all"``; ``visit`` is empty
        where it does not apply; ``value`` is the headline number: a count, a proportion,
        or a rate):

        ``screened``
            people screened (value).
        ``eligible``
            people eligible (value).
        ``eligibility_rate``
            eligible / screened.
        ``consent_rate``
            randomized / eligible (from the log; from the trial data with ``counts``).
        ``randomized``
            participants in the trial data: overall (value) and per arm (share of all).
        ``recruitment_months``
            calendar months from the first to the last month of the log, inclusive.
        ``recruitment_per_month``
            randomized / months (value) with the exact Poisson interval of the rate
            (:func:`poisson_rate_interval`); ``recruitment_per_month_min`` and
            ``_max``: the fewest and most randomized in a month of that period (months
            without anyone randomized count as 0).
        ``received_infusion``
            participants with a baseline score / randomized, by arm. Assumption: every
            randomized participant with a baseline assessment received the intervention
            (there is no dosing record); say otherwise in the report if it is not so.
        ``retention``
            at each post-baseline visit, by arm: participants with any score at that visit
            / randomized.
        ``completeness``
            observed / expected scores at each visit and over all visits (``visit ==
            "all"``), by arm. Expected = participants randomized x outcomes scheduled at
            that visit, an outcome counting as scheduled at a visit if anyone has a score
            there (so imaging measured at baseline and 30d only is not missing at 24h).

        Proportions carry 100(1 - alpha)% Wilson intervals (:func:`wilson_interval`). A
        measure that cannot be computed (no screening data; completeness at a visit where no
        outcome has a score) is NaN with ``note`` "not estimable: <reason>".

    Notes
    -----
    The number randomized comes from the trial data. When the screening log counts a
    different number as randomized, the log's count is used for the consent rate and the
    recruitment rate (same source as their denominators) and the rows say so in ``note``.
    """
    trial = as_trial(config)
    alpha = trial.alpha
    arms = list(trial.arms)
    order = list(trial.visit_order)
    baseline = order[0] if trial.baseline is None else trial.baseline
    post = [v for v in order if v != baseline]
    feas = trial.section("feasibility")

    people = analysis[["participant", "arm"]].drop_duplicates("participant")
    n_rand = {a: int((people["arm"] == a).sum()) for a in arms}
    n_rand[OVERALL] = int(len(people))

    if screening is None and feas.get("screening_log"):
        screening = read_screening_log(trial)
    rows = []

    # Screening, eligibility, consent.
    months = None
    if screening is not None:
        eligible = _as_bool(screening["eligible"])
        randomized_log = _as_bool(screening["randomized"])
        n_screened, n_eligible, n_rand_log = len(screening), int(eligible.sum()), int(randomized_log.sum())
        source = "screening log"
        months = screening["month"].astype(str)
    elif feas.get("counts"):
        counts = feas["counts"]
        n_screened = counts.get("screened", np.nan)
        n_eligible = counts.get("eligible", np.nan)
        n_rand_log = n_rand[OVERALL]
        source = "feasibility.counts"
    else:
        n_screened = n_eligible = np.nan
        n_rand_log = n_rand[OVERALL]
        source = _NO_SCREENING
    n_screened = float(n_screened) if n_screened is not None else np.nan
    n_eligible = float(n_eligible) if n_eligible is not None else np.nan
    mismatch = ""
    if screening is not None and n_rand_log != n_rand[OVERALL]:
        mismatch = (f"; the screening log counts {n_rand_log} randomized, the trial data "
                    f"{n_rand[OVERALL]}")
    rows.append(_row("screened", value=n_screened, note=source))
    rows.append(_row("eligible", value=n_eligible, note=source))
    rows.append(_row("eligibility_rate", numerator=n_eligible, denominator=n_screened, alpha=alpha, note=source))
    rows.append(_row("consent_rate", numerator=float(n_rand_log), denominator=n_eligible, alpha=alpha,
                     note=("randomized among eligible; " + source + mismatch) if np.isfinite(n_eligible)
                     else source))

    rows.append(_row("randomized", value=float(n_rand[OVERALL]), note="trial data" + mismatch))
    for a in arms:
        rows.append(_row("randomized", arm=a, numerator=float(n_rand[a]), denominator=float(n_rand[OVERALL]),
                         alpha=alpha, value=float(n_rand[a]), note="share of all randomized"))

    # Recruitment per month (needs the log's months).
    if months is not None and len(months):
        numbers = months.map(_month_number)
        first, last = int(numbers.min()), int(numbers.max())
        n_months = last - first + 1
        per_month = (pd.Series(randomized_log.to_numpy(), index=numbers.to_numpy())
                     .groupby(level=0).sum().reindex(range(first, last + 1), fill_value=0))
        period = f"{months.min()} to {months.max()}"
        rate = n_rand_log / n_months
        rows.append(_row("recruitment_months", value=float(n_months), note=period))
        rows.append(_row("recruitment_per_month", numerator=float(n_rand_log), denominator=float(n_months),
                         value=rate, ci=poisson_rate_interval(n_rand_log, n_months, alpha),
                         note=f"mean randomized per month, {period}; exact Poisson interval" + mismatch,
                         is_proportion=False))
        rows.append(_row("recruitment_per_month_min", value=float(per_month.min()), note=period))
        rows.append(_row("recruitment_per_month_max", value=float(per_month.max()), note=period))
    else:
        why = "needs the months of feasibility.screening_log"
        for measure in ("recruitment_months", "recruitment_per_month", "recruitment_per_month_min",
                        "recruitment_per_month_max"):
            rows.append(_row(measure, value=np.nan, note=why))

    # Receipt of the intervention, retention, completeness.
    scored = analysis[analysis["score"].notna()]
    with_baseline = set(scored.loc[scored["visit"] == baseline, "participant"])
    arm_of = people.set_index("participant")["arm"]
    for a in arms + [OVERALL]:
        members = arm_of.index if a == OVERALL else arm_of.index[arm_of == a]
        rows.append(_row("received_infusion", arm=a, numerator=float(len(with_baseline & set(members))),
                         denominator=float(n_rand[a]), alpha=alpha, note=_INFUSION_NOTE))
    seen = scored.groupby("visit")["participant"].agg(lambda s: set(s))
    for v in post:
        present = seen.get(v, set())
        for a in arms + [OVERALL]:
            members = set(arm_of.index if a == OVERALL else arm_of.index[arm_of == a])
            rows.append(_row("retention", arm=a, visit=v, numerator=float(len(present & members)),
                             denominator=float(n_rand[a]), alpha=alpha,
                             note="participants with any score at the visit / randomized"))
    scheduled = scored.groupby("visit")["outcome"].agg(lambda s: sorted(set(s)))
    observed = scored.groupby(["visit", "arm"]).size()
    for v in order + ["all"]:
        visits = order if v == "all" else [v]
        for a in arms + [OVERALL]:
            expected = sum(len(scheduled.get(u, [])) for u in visits) * n_rand[a]
            got = sum(int(observed.get((u, b), 0)) for u in visits for b in (arms if a == OVERALL else [a]))
            note = ("observed / expected scores (outcomes scheduled at the visit)" if expected else
                    not_estimable(f"no outcome has a score at {v}: nothing was expected" if v != "all"
                                  else "no score at any visit"))
            rows.append(_row("completeness", arm=a, visit=v, numerator=float(got), denominator=float(expected),
                             alpha=alpha, note=note))
    table = pd.DataFrame(rows, columns=FEASIBILITY_COLUMNS)
    return table.astype({c: float for c in ["numerator", "denominator", "proportion", "ci_lower", "ci_upper",
                                            "value"]})


# --------------------------------------------------------------------------- progression


def progression_table(feasibility: pd.DataFrame, config) -> pd.DataFrame:
    r"""The pre-specified progression criteria read against the feasibility table.

    Parameters
    ----------
    feasibility : pandas.DataFrame
        Output of :func:`feasibility_table`.
    config : dict or Trial
        Validated config; ``feasibility.progression_criteria`` is a list of ``name``,
        ``metric`` (``retention``, ``completeness``, ``eligibility_rate``, ``consent_rate``,
        ``recruitment_per_month``), ``threshold`` and, for retention and completeness, an
        optional ``visit`` (default the last key visit; ``all`` for completeness over all
        visits).

    Returns
    -------
    pandas.DataFrame
        :data:`PROGRESSION_COLUMNS`, one row per criterion in config order: the observed
        value over all arms (a proportion, or the mean randomized per month) with its
        interval; ``met`` is ``"met"`` when observed >= threshold, ``"not met"`` when below,
        ``"not assessable"`` when the observed value is missing; ``met_with_confidence`` is
        True when the whole interval lies at or above the threshold (Wilson interval for
        proportions, exact Poisson interval for recruitment). A criterion that is not
        assessable has a ``note`` column (added last when there is one) saying
        "not estimable: <reason>".

    Raises
    ------
    InputError
        A proportion threshold outside [0, 1] (e.g. 80 for 80%), or a visit not in the
        config.

    Notes
    -----
    Thresholds are proportions (0.8) for rates and numbers per month for recruitment. A
    pilot is usually too small for ``met_with_confidence``; it is reported so that a
    criterion met by a point estimate alone is read as such.
    """
    trial = as_trial(config)
    rows, notes = [], []
    for c, visit in check_progression_criteria(trial):
        metric, threshold = c["metric"], float(c["threshold"])
        match = feasibility[(feasibility["measure"] == metric) & (feasibility["arm"] == OVERALL)]
        if visit is not None:
            match = match[match["visit"] == visit]
        if len(match):
            hit = match.iloc[0]
            observed, lo, hi = float(hit["value"]), float(hit["ci_lower"]), float(hit["ci_upper"])
            why = reason_of(hit["note"]) if "note" in match.columns else ""
        else:
            observed = lo = hi = np.nan
            why = ""
        if np.isnan(observed):
            met, confident = "not assessable", False
            notes.append(not_estimable(f"{metric} is not available" + (f" ({why})" if why else "")))
        else:
            met = "met" if observed >= threshold else "not met"
            confident = bool(np.isfinite(lo) and lo >= threshold)
            notes.append("")
        rows.append({"name": c["name"], "metric": metric, "visit": visit, "threshold": threshold,
                     "observed": observed, "ci_lower": lo, "ci_upper": hi, "met": met,
                     "met_with_confidence": confident})
    return with_note(pd.DataFrame(rows, columns=PROGRESSION_COLUMNS), notes)


def check_progression_criteria(config) -> list:
    """The progression criteria of a config, checked: ``[(criterion, visit)]`` in config order,
    ``visit`` the visit a retention or completeness criterion is read at (None for the others).

    Parameters
    ----------
    config : dict or Trial
        Validated config (``feasibility.progression_criteria``, ``visits``).

    Raises
    ------
    InputError
        A proportion threshold outside [0, 1] (e.g. 80 for 80%), or a visit not in the
        config. Everything it checks is in the config: it can run before any job does.
    """
    trial = as_trial(config)
    criteria = trial.section("feasibility").get("progression_criteria") or []
    order = list(trial.visit_order)
    key = list(trial.key_visits or order[1:])
    checked = []
    for i, c in enumerate(criteria):
        metric, threshold = c["metric"], float(c["threshold"])
        where = f"feasibility.progression_criteria[{i}]"
        if metric in _PROPORTION_METRICS and not 0 <= threshold <= 1:
            raise InputError(f"{where} ({c['name']}): threshold {threshold:g} is not a proportion",
                             column=f"{where}.threshold",
                             fix=f"write the threshold as a proportion, e.g. {threshold / 100:g} for "
                                 f"{threshold:g}%" if threshold > 1 else "use a value between 0 and 1")
        visit = None
        if metric in ("retention", "completeness"):
            visit = c.get("visit") or key[-1]
            allowed = order + (["all"] if metric == "completeness" else [])
            if visit not in allowed:
                raise InputError(f"{where} ({c['name']}): visit {visit!r} is not in visits.order {order}",
                                 column=f"{where}.visit",
                                 fix="use a visit of visits.order" + (" or all" if metric == "completeness" else ""))
        checked.append((c, visit))
    return checked
