"""Table 1: baseline characteristics by arm with standardized mean differences.

A table, not a figure: the cells are formatted text (``mean (SD)``, ``median [IQR]``,
``n (%)``) as the report prints them, written to ``tables/table_one.csv``.

References
----------
Schulz KF, Altman DG, Moher D. CONSORT 2010 statement: updated guidelines for reporting
parallel group randomised trials. BMJ 2010;340:c332 (item 15).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import arm_order, participants
from pilottrial.report.figures.labels import number

__all__ = ["table_one", "standardized_mean_difference", "baseline_characteristics", "smd_columns"]

#: A text characteristic with more levels than this is left out of Table 1 unless the config names
#: it (analysis.covariates or analysis.strata): free text or codes, not a characteristic to tabulate.
MAX_LEVELS = 12
#: Column names that identify records rather than describe participants (``id``, ``subjid``,
#: ``patient_id``, ``USUBJID``...): left out of Table 1 when they have more than MAX_LEVELS values,
#: unless the config names them.
_IDENTIFIER = re.compile(r"^(.*[_.\s-])?(u?subj(ect)?_?id|pat(ient)?_?id|record_?id|id|ids|usubjid|studyid)$",
                         re.IGNORECASE)


def standardized_mean_difference(treatment, reference, kind: str = "continuous") -> float:
    r"""Absolute standardized mean difference between two arms (Austin 2009).

    Parameters
    ----------
    treatment, reference : array-like
        Values of one characteristic in each arm (missing values are ignored).
    kind : {"continuous", "categorical"}
        Continuous: the difference in means over the root mean of the variances.
        Categorical: over the levels present (binary: Austin's formula for proportions;
        more than two levels: the multivariate form of Yang and Dalton).

    Returns
    -------
    float
        :math:`|d|`; 0 when the arms do not differ, NaN when it is not defined (an empty
        arm, or different values with zero variance).

    Notes
    -----
    Continuous: :math:`d = (\bar x_T - \bar x_R) / \sqrt{(s_T^2 + s_R^2)/2}` with sample
    variances (denominator n - 1).
    Binary: :math:`d = (\hat p_T - \hat p_R) / \sqrt{(\hat p_T(1-\hat p_T) + \hat p_R(1-\hat p_R))/2}`.
    *k* levels: with :math:`T`, :math:`R` the proportions of levels 2..k and
    :math:`S = (S_T + S_R)/2`, :math:`S_{ll} = p_l(1-p_l)`, :math:`S_{lm} = -p_lp_m`,
    :math:`d = \sqrt{(T-R)'S^{-1}(T-R)}` (reduces to the binary formula for k = 2).

    References
    ----------
    Austin PC. Balance diagnostics for comparing the distribution of baseline covariates
    between treatment groups in propensity-score matched samples. Stat Med
    2009;28:3083-3107.

    Yang D, Dalton JE. A unified approach to measuring the effect size between two groups
    using SAS. SAS Global Forum 2012, paper 335.

    Examples
    --------
    >>> round(standardized_mean_difference([1, 2, 3], [2, 3, 4]), 6)
    1.0
    >>> round(standardized_mean_difference(["F", "F", "M", "M"], ["F", "M", "M", "M"], "categorical"), 4)
    0.5345
    """
    if kind == "continuous":
        t = pd.to_numeric(pd.Series(treatment), errors="coerce").dropna().to_numpy(dtype=float)
        r = pd.to_numeric(pd.Series(reference), errors="coerce").dropna().to_numpy(dtype=float)
        if t.size == 0 or r.size == 0:
            return math.nan
        diff = float(t.mean() - r.mean())
        var_t = float(t.var(ddof=1)) if t.size > 1 else 0.0
        var_r = float(r.var(ddof=1)) if r.size > 1 else 0.0
        denom = math.sqrt((var_t + var_r) / 2.0)
        if denom == 0.0:
            return 0.0 if diff == 0.0 else math.nan
        return abs(diff) / denom
    if kind != "categorical":
        raise ValueError(f"kind must be 'continuous' or 'categorical', not {kind!r}")
    t = pd.Series(treatment).dropna().astype(str)
    r = pd.Series(reference).dropna().astype(str)
    if t.empty or r.empty:
        return math.nan
    levels = sorted(set(t) | set(r))
    if len(levels) < 2:
        return 0.0
    pt = np.array([(t == lv).mean() for lv in levels])[1:]
    pr = np.array([(r == lv).mean() for lv in levels])[1:]
    diff = pt - pr

    def cov(p):
        return np.diag(p) - np.outer(p, p)

    S = (cov(pt) + cov(pr)) / 2.0
    if not diff.any():
        return 0.0
    value = float(diff @ np.linalg.pinv(S) @ diff)
    return math.sqrt(max(value, 0.0)) if np.isfinite(value) else math.nan


def _decimals(sd: float) -> int:
    """Decimals shown for values with this SD: 1 for SD >= 1, 2 for 0.1 <= SD < 1, ... (at most 4)."""
    if not np.isfinite(sd) or sd <= 0:
        return 1
    return int(min(4, max(1, 1 - math.floor(math.log10(sd)))))


def smd_columns(trial: Trial, arms: list) -> list[tuple[str, str, str]]:
    """The SMD columns of Table 1 as ``(column, treatment arm, reference arm)``: ``smd`` (the
    treatment arm against the reference) in a two-arm trial; with three or more arms one column
    ``smd_<comparison>`` per comparison of :attr:`~pilottrial.config.Trial.comparisons`."""
    if trial.is_multi_arm:
        return [(f"smd_{c.name}", c.treatment, c.reference) for c in trial.comparisons]
    return [("smd", arms[1], arms[0])] if len(arms) > 1 else [("smd", None, None)]


def _continuous_rows(variable, values_by_arm, arms, overall, pairs):
    """The *mean (SD)* and *median [IQR]* rows of one continuous variable."""
    sd_all = float(overall.std(ddof=1)) if overall.size > 1 else math.nan
    d = _decimals(sd_all)
    mean_sd, median_iqr = {}, {}
    for arm, x in list(values_by_arm.items()) + [("overall", overall)]:
        if x.size == 0:
            mean_sd[arm] = median_iqr[arm] = "NA"
            continue
        sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
        mean_sd[arm] = f"{number(float(x.mean()), d)} ({number(sd, d)})"
        q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        median_iqr[arm] = f"{number(med, d)} [{number(q1, d)}, {number(q3, d)}]"
    smd = {column: standardized_mean_difference(values_by_arm[t], values_by_arm[r]) if t is not None else math.nan
           for column, t, r in pairs}
    none = {column: math.nan for column, _, _ in pairs}
    return [{"variable": variable, "level": "", "statistic": "mean (SD)", **mean_sd, **smd},
            {"variable": variable, "level": "", "statistic": "median [IQR]", **median_iqr, **none}]



def _label_columns(trial: Trial) -> set:
    """Columns of the data file that hold labels, scores or score-derived values (never in Table 1)."""
    cols = trial.section("columns")
    out = {cols.get("participant", "participant"), cols.get("arm", "arm"), cols.get("visit", "visit"),
           cols.get("day"), cols.get("paramcd"), cols.get("value"), cols.get("base"), "participant", "arm", "visit"}
    for outcome in trial.outcomes:
        spec = outcome.spec
        out |= {spec.get("column"), spec.get("baseline_column")}
        out |= {str(c) for c in (spec.get("columns") or {}).values()}
    out |= set(trial.section("data").get("drop_columns", []) or [])
    return {str(c) for c in out if c is not None}


def baseline_characteristics(frame: pd.DataFrame, trial: Trial) -> list[str]:
    """The columns Table 1 describes: the covariates and strata of the analysis, then every other
    participant-level column of the data.

    Parameters
    ----------
    frame : pandas.DataFrame
        The trial data as read (any layout), participants as text in the participant column.
    trial : Trial
        The typed config.

    Returns
    -------
    list of str
        ``analysis.covariates`` and ``analysis.strata`` present in the data, in that order, then
        the other columns in file order that are constant within each participant (a value
        measured once, before randomization: age, sex, site). Never a score: the outcome columns
        (``column``, ``columns`` of a wide layout, ``baseline_column``), the label columns and
        ``data.drop_columns`` are left out, as is every column that changes from visit to visit
        (post-baseline values, ADaM ``CHG``, ``AVISITN``), identifier columns (``id``,
        ``SUBJID``... with more than :data:`MAX_LEVELS` values) and every text column with more than :data:`MAX_LEVELS` levels.
    """
    pid = trial.section("columns").get("participant", "participant")
    analysis = trial.section("analysis")
    named = [str(c) for c in list(analysis.get("covariates", []) or []) + list(analysis.get("strata", []) or [])]
    excluded = _label_columns(trial)
    chosen = [c for c in dict.fromkeys(named) if c in frame.columns and c != pid]
    if pid not in frame.columns:
        return chosen
    grouped = frame.groupby(frame[pid].astype(str), sort=False)
    for column in frame.columns:
        if column in excluded or column in chosen or str(column) in excluded:
            continue
        values = frame[column]
        if values.notna().sum() == 0:
            continue
        if _IDENTIFIER.match(str(column)) and values.dropna().astype(str).nunique() > MAX_LEVELS:
            continue
        if int(grouped[column].nunique(dropna=True).max()) > 1:  # changes within a participant
            continue
        numeric = pd.to_numeric(values.dropna(), errors="coerce")
        if numeric.isna().any() and values.dropna().astype(str).str.strip().nunique() > MAX_LEVELS:
            continue
        chosen.append(column)
    return chosen


def _missing_as_nan(frame: pd.DataFrame, trial: Trial) -> pd.DataFrame:
    """Cells equal to a declared missing-value code (``data.missing_codes``) set to NaN."""
    codes = trial.section("data").get("missing_codes") or []
    if not codes:
        return frame
    text = {str(c).strip() for c in codes}
    numbers = {float(c) for c in codes if _is_number(c)}
    for column in frame.columns:
        values = frame[column]
        as_text = values.astype(str).str.strip()
        hit = as_text.isin(text)
        if numbers:
            hit |= pd.to_numeric(values, errors="coerce").isin(numbers)
        if hit.any():
            frame[column] = values.where(~hit)
    return frame


def _is_number(x) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return not isinstance(x, bool)


def _baseline_scores(analysis: pd.DataFrame, name: str, trial: Trial) -> tuple[pd.Series, str]:
    """Each participant's baseline score of one outcome, and how the row is labelled.

    The score at the baseline visit; without a baseline visit the ``baseline`` column of the
    analysis table (a baseline given as a column); in a raw-score trial without either, the
    score at the first visit (labelled with that visit).
    """
    part = analysis.loc[analysis["outcome"].astype(str) == name]
    if trial.baseline is not None:
        part = part.loc[part["visit"].astype(str) == trial.baseline]
        return pd.to_numeric(part.set_index("participant")["score"], errors="coerce"), "baseline"
    if "baseline" in part:
        scores = pd.to_numeric(part.groupby("participant")["baseline"].first(), errors="coerce")
        if scores.notna().any() or not trial.visit_order:
            return scores, "baseline"
    first = trial.visit_order[0] if trial.visit_order else None
    part = part.loc[part["visit"].astype(str) == str(first)]
    return pd.to_numeric(part.set_index("participant")["score"], errors="coerce"), f"{first}"


def table_one(analysis: pd.DataFrame, raw_frame: pd.DataFrame, config: dict,
              characteristics: list | None = None) -> pd.DataFrame:
    r"""Table 1: baseline characteristics by arm with standardized mean differences.

    Rows, in order: the number randomized; each baseline characteristic of the raw data (by
    default :func:`baseline_characteristics`: the covariates and strata, then every other
    participant-level column that is not a label, a score or a dropped column; e.g. age and
    sex; never a post-baseline value); the baseline score of every outcome (at the baseline
    visit, or from its baseline column; a raw-score trial without a baseline shows the first
    visit). Cells equal to a ``data.missing_codes`` code count as missing.
    Continuous variables get a *mean (SD)* and a *median [IQR]* row, categorical ones an
    *n (%)* row per level (and a *missing* row when values are missing).

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table; defines the participants and their arms.
    raw_frame : pandas.DataFrame
        The trial data as read (e.g. :func:`pilottrial.data.read_trial_data` or
        ``pandas.read_csv`` of ``data.path``); a participant's characteristics are taken from
        the baseline visit row (else the first row).
    config : dict
        Trial config (``columns``, arms, visits, outcomes, ``data.drop_columns``).
    characteristics : list of str, optional
        Raw columns to describe, in this order (default: detected as above). A column is
        continuous when all its values are numbers and it has more than two distinct values,
        categorical otherwise.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, level, statistic``, one text column per arm (reference arm,
        treatment arm, others), ``overall`` and ``smd`` (the absolute standardized mean
        difference treatment vs reference, :func:`standardized_mean_difference`, on the first
        row of each variable; NaN elsewhere). With three or more arms, one such column
        ``smd_<comparison>`` per comparison instead (:func:`smd_columns`).

    Notes
    -----
    Decimals follow the overall SD (1 decimal for SD >= 1, 2 for 0.1 <= SD < 1, ...);
    quartiles are linear interpolations (``numpy.quantile``). Percentages are of the
    participants of the arm with a known value. Baseline imbalance in a randomized trial is
    chance by construction; the SMD describes its size (|SMD| > 0.1 is often flagged), no
    p value is given (CONSORT 2010, item 15).
    """
    trial = Trial.from_config(config)
    arms = arm_order(trial, analysis)
    pairs = smd_columns(trial, arms)
    smd_names = [column for column, _, _ in pairs]
    none = {column: math.nan for column in smd_names}
    arm_of = participants(analysis).set_index("participant")["arm"]
    cols = trial.section("columns")
    pid = cols.get("participant", "participant")
    visit_col = cols.get("visit", "visit")
    baseline = trial.baseline

    frame = _missing_as_nan(raw_frame.copy(), trial)
    frame[pid] = frame[pid].astype(str)
    frame = frame.loc[frame[pid].isin(set(arm_of.index))]
    if visit_col in frame and baseline is not None:
        frame = frame.assign(_first=(frame[visit_col].astype(str) != baseline).astype(int))
        frame = frame.sort_values("_first", kind="mergesort").drop(columns="_first")
    per_person = frame.drop_duplicates(pid, keep="first").set_index(pid).reindex(arm_of.index)
    if characteristics is None:
        characteristics = baseline_characteristics(frame, trial)

    def split(values: pd.Series) -> dict:
        return {a: values[arm_of == a] for a in arms}

    rows = [{"variable": "n", "level": "", "statistic": "participants randomized",
             **{a: str(int((arm_of == a).sum())) for a in arms}, "overall": str(len(arm_of)), **none}]
    for column in characteristics:
        values = per_person[column]
        text = values.astype(object).where(values.notna())
        if text.map(lambda v: isinstance(v, str)).any():
            text = text.map(lambda v: v.strip() if isinstance(v, str) else v).replace("", np.nan)
        numeric = pd.to_numeric(text, errors="coerce")
        is_numeric = numeric.notna().sum() == text.notna().sum() and numeric.notna().any()
        if is_numeric and numeric.nunique() > 2:
            by_arm = {a: v.dropna().to_numpy(dtype=float) for a, v in split(numeric).items()}
            rows += _continuous_rows(str(column), by_arm, arms, numeric.dropna().to_numpy(dtype=float), pairs)
            n_missing = {a: int(v.isna().sum()) for a, v in split(numeric).items()}
            if sum(n_missing.values()):
                rows.append({"variable": str(column), "level": "missing", "statistic": "n",
                             **{a: str(n) for a, n in n_missing.items()},
                             "overall": str(sum(n_missing.values())), **none})
            continue
        labels = text.map(lambda v: f"{v:g}" if isinstance(v, float) else str(v), na_action="ignore")
        groups = split(labels)
        smd = {name: standardized_mean_difference(groups[t], groups[r], "categorical") if t is not None else math.nan
               for name, t, r in pairs}
        rows.append({"variable": str(column), "level": "", "statistic": "n (%)", **{a: "" for a in arms},
                     "overall": "", **smd})
        levels = sorted(labels.dropna().unique(), key=str)
        for level in levels + (["missing"] if labels.isna().any() else []):
            cell = {}
            for a, g in list(groups.items()) + [("overall", labels)]:
                known = int(g.notna().sum())
                if level == "missing":
                    cell[a] = str(int(g.isna().sum()))
                else:
                    k = int((g == level).sum())
                    cell[a] = f"{k} ({100 * k / known:.1f}%)" if known else "0"
            rows.append({"variable": str(column), "level": str(level),
                         "statistic": "n" if level == "missing" else "n (%)", **cell, **none})
    rows_outcomes = analysis.copy()
    rows_outcomes["participant"] = rows_outcomes["participant"].astype(str)
    for name in trial.outcome_names:
        scores, label = _baseline_scores(rows_outcomes, name, trial)
        scores = scores[~scores.index.duplicated()].reindex(arm_of.index)
        if scores.notna().sum() == 0:
            continue
        by_arm = {a: v.dropna().to_numpy(dtype=float) for a, v in split(scores).items()}
        rows += _continuous_rows(f"{name} at {label}", by_arm, arms, scores.dropna().to_numpy(dtype=float), pairs)
        n_missing = {a: int(v.isna().sum()) for a, v in split(scores).items()}
        if sum(n_missing.values()):
            rows.append({"variable": f"{name} at {label}", "level": "missing", "statistic": "n",
                         **{a: str(n) for a, n in n_missing.items()}, "overall": str(sum(n_missing.values())),
                         **none})
    table = pd.DataFrame(rows, columns=["variable", "level", "statistic", *arms, "overall", *smd_names])
    for name in smd_names:
        table[name] = table[name].astype(float)
    return table
