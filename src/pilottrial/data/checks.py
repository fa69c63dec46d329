"""Checking a trial's data against its config, and the de-identification guard.

Every check raises :class:`~pilottrial.errors.InputError` on the first problem, naming the
file, the source lines, the column and the fix.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd

from pilottrial.config.load import quoting_hint
from pilottrial.config.trial import Trial
from pilottrial.data.readers import source_lines, source_unit
from pilottrial.errors import InputError

__all__ = ["check_trial_data", "check_identifiers", "check_scores", "missing_columns", "check_analysable",
           "quoting_hint"]

# HIPAA Safe Harbor direct identifiers, by column name and by content.
_IDENTIFIER_NAMES = re.compile(
    r"(^|_)(first_?name|last_?name|surname|full_?name|given_?name|patient_?name|name|initials|e_?mail|"
    r"phone|telephone|mobile|fax|address|street|city|zip|zip_?code|postcode|postal_?code|dob|"
    r"date_?of_?birth|birth_?date|birthdate|ssn|social_?security|mrn|medical_?record|record_?number|"
    r"health_?plan|account_?number|licen[cs]e|ip_?address|url|device_?serial|admission_?date|"
    r"discharge_?date|visit_?date|death_?date|date)($|_)", re.IGNORECASE)
_IDENTIFIER_CONTENT = {
    "e-mail addresses": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    "phone numbers": re.compile(r"^\+?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}$"),
    "social security numbers": re.compile(r"^\d{3}-\d{2}-\d{4}$"),
    "full dates": re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})([ T].*)?$"),
    "street addresses": re.compile(r"^\d+\s+\w+.*\b(street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd)\b",
                                   re.IGNORECASE),
}


def check_identifiers(frame: pd.DataFrame, config: dict) -> None:
    """Refuse columns that look like direct identifiers (HIPAA Safe Harbor), by name or by
    content (more than half of the non-empty values match a pattern). The message names the
    columns and the kind of identifier, never a value. ``data.drop_columns`` removes columns
    before this check."""
    path = config["data"]["path"]
    configured = {v for k, v in config["columns"].items() if isinstance(v, str)}
    offending = []
    for col in frame.columns:
        if col in configured:
            continue
        if _IDENTIFIER_NAMES.search(str(col)):
            offending.append(f"{col} (name)")
            continue
        values = frame[col].dropna().astype(str).str.strip()
        values = values[values != ""]
        if values.empty:
            continue
        sample = values.head(200)
        for kind, pattern in _IDENTIFIER_CONTENT.items():
            if sample.map(lambda v, p=pattern: bool(p.match(v))).mean() > 0.5:
                offending.append(f"{col} ({kind})")
                break
    if offending:
        names = [o.split(" (")[0] for o in offending]
        raise InputError(f"column(s) that look like direct identifiers: {', '.join(offending)}", file=path,
                         column=names[0],
                         fix=f"remove them from the export, or list them under data.drop_columns: {names}")


def missing_columns(frame: pd.DataFrame, needed, path) -> None:
    """Raise when a column of ``needed`` is not in ``frame``, suggesting close names."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        if len(frame.columns) == 1 and any(sep in frame.columns[0] for sep in ";\t|"):
            raise InputError("the file has a single column: it is not comma-separated", file=path,
                             fix="save it as comma-separated values (CSV)")
        hints = [difflib.get_close_matches(c, list(frame.columns), n=1) for c in missing]
        hint = "; ".join(f"{c!r} may be {h[0]!r}" for c, h in zip(missing, hints) if h)
        raise InputError(f"column(s) {missing} named in the config are not in the data "
                         f"(found: {list(frame.columns)})", file=path, column=missing[0],
                         fix=hint or "rename the column in the data or correct columns/outcomes in the config")


def check_scores(frame: pd.DataFrame, config: dict, pairs) -> None:
    """Scores numeric and in range, for ``(outcome spec, column)`` pairs of ``frame``; converts
    the columns to float in place."""
    path = config["data"]["path"]
    for o, col in pairs:
        text = frame[col]
        numeric = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numeric.isna()
        if bad.any():
            raise InputError(f"{o['name']} score {text[bad].iloc[0]!r} is not a number", file=path,
                             unit=source_unit(frame), rows=source_lines(frame.index[bad]), column=col,
                             fix="write scores as numbers and leave missing scores empty")
        lo, hi = (o.get("range") or [None, None])
        outside = pd.Series(False, index=frame.index)
        if lo is not None:
            outside |= numeric < lo
        if hi is not None:
            outside |= numeric > hi
        if outside.any():
            value = numeric[outside].iloc[0]
            raise InputError(f"{o['name']} score {value:g} is outside its range {o.get('range')}", file=path,
                             unit=source_unit(frame), rows=source_lines(frame.index[outside]), column=col,
                             fix="correct the score, or the outcome's range in the config")
        frame[col] = numeric.astype(float)


def check_trial_data(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Check the long table against the config; return it with numeric outcome columns.

    Checks: columns present; arm and visit labels known; one row per participant x visit;
    scores numeric and inside their range; a baseline score for every participant; each
    participant in one arm; both arms present. Raises :class:`InputError` on the first problem.
    ``config`` describes the long table (:func:`pilottrial.data.layouts.normalize_layout`).
    """
    trial = Trial.from_config(config)
    path = config["data"]["path"]
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    outcomes = config["outcomes"]
    missing_columns(frame, [pid, arm, visit] + [o["column"] for o in outcomes], path)
    frame = frame.copy()
    for c in (pid, arm, visit):
        frame[c] = frame[c].map(_label_text).astype(object)
    blank = frame[[pid, arm, visit]].isna().any(axis=1)
    if blank.any():
        col = next(c for c in (pid, arm, visit) if frame.loc[blank, c].isna().any())
        raise InputError("empty cell where a label is required", file=path, unit=source_unit(frame),
                         rows=source_lines(frame.index[blank]), column=col,
                         fix="fill in the participant, arm and visit on every row")
    for o in outcomes:
        text = frame[o["column"]]
        numeric = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numeric.isna()
        if bad.any():
            example = text[bad].iloc[0]
            raise InputError(f"{o['name']} score {example!r} is not a number", file=path,
                             unit=source_unit(frame), rows=source_lines(frame.index[bad]), column=o["column"],
                             fix="write scores as numbers and leave missing scores empty")
        frame[o["column"]] = numeric.astype(float)
    import pandera.pandas as pa  # here: the jobs that only read the pipeline's tables do not load pandera

    checks = {
        arm: pa.Column(str, pa.Check.isin(list(trial.arms)), nullable=False),
        visit: pa.Column(str, pa.Check.isin(list(trial.visit_order)), nullable=False),
    }
    for o in outcomes:
        lo, hi = (o.get("range") or [None, None])
        value_checks = []
        if lo is not None:
            value_checks.append(pa.Check.ge(lo))
        if hi is not None:
            value_checks.append(pa.Check.le(hi))
        checks[o["column"]] = pa.Column(float, value_checks, nullable=True)
    schema = pa.DataFrameSchema(checks, unique=[pid, visit], strict=False)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise _pandera_error(exc.failure_cases, frame, config, trial) from None
    _check_design(frame, config, trial)
    return frame


def _label_text(value):
    """A label cell as stripped text (numbers as a CSV shows them: 1.0 -> '1'); missing stays NaN."""
    if isinstance(value, str):
        return value.strip()
    if value is None or pd.isna(value):
        return float("nan")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pandera_error(cases: pd.DataFrame, frame, config, trial) -> InputError:
    path = config["data"]["path"]
    cols = config["columns"]
    case = cases.iloc[0]
    column, check = case["column"], str(case["check"])
    same = cases[(cases["column"] == column) & (cases["check"].astype(str) == check)]
    rows = source_lines(same["index"].dropna())
    unit = source_unit(frame)
    if column == cols["arm"]:
        found = sorted(set(frame[column]) - set(trial.arms))
        fix = quoting_hint(found, trial.arms, "arms") or \
            (f"use {trial.reference!r} or {trial.treatment!r}, or correct arms: in the config" if not trial.is_multi_arm
             else f"use one of {', '.join(map(repr, trial.arms))}, or correct arms: in the config")
        return InputError(f"unknown arm label(s) {found}", file=path, unit=unit, rows=rows, column=column, fix=fix)
    if column == cols["visit"]:
        order = config["visits"]["order"]
        found = sorted(set(frame[column]) - set(order))
        fix = quoting_hint(found, order, "visits.order") or \
            f"use the labels of visits.order {order} or add them there"
        return InputError(f"unknown visit label(s) {found}", file=path, unit=unit, rows=rows, column=column, fix=fix)
    if "unique" in check or column in (None, "", cols["participant"]) or \
            str(case.get("schema_context")) == "DataFrameSchema":
        dup = frame.duplicated([cols["participant"], cols["visit"]], keep=False)
        first = frame[dup].iloc[0]
        return InputError(f"participant {first[cols['participant']]!r} has more than one row for visit "
                          f"{first[cols['visit']]!r}", file=path, unit=unit, rows=source_lines(frame.index[dup]),
                          column=cols["visit"], fix="keep one row per participant and visit")
    outcome = next(o for o in config["outcomes"] if o["column"] == column)
    value = case["failure_case"]
    return InputError(f"{outcome['name']} score {value:g} is outside its range {outcome.get('range')}",
                      file=path, unit=unit, rows=rows, column=column,
                      fix="correct the score, or the outcome's range in the config")


def _check_design(frame, config, trial):
    """One arm per participant, both arms present, a baseline score for everyone (change
    analyses) and scores at every key visit."""
    path = config["data"]["path"]
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    arms_per = frame.groupby(pid)[arm].nunique()
    if (arms_per > 1).any():
        who = arms_per[arms_per > 1].index[0]
        raise InputError(f"participant {who!r} appears in more than one arm", file=path,
                         unit=source_unit(frame), rows=source_lines(frame.index[frame[pid] == who]), column=arm,
                         fix="each participant keeps the arm they were randomized to")
    present = set(frame[arm])
    for a in trial.arms:
        if a not in present:
            raise InputError(f"no participant in arm {a!r}: a comparison needs both arms", file=path,
                             column=arm, fix="check the arm labels in the data and the config")
    if trial.response == "raw" or trial.baseline is None:
        _check_key_visits(frame, config, trial)
        return
    baseline = frame[frame[visit] == trial.baseline]
    no_baseline = sorted(set(frame[pid]) - set(baseline[pid]))
    if no_baseline:
        raise InputError(f"participant(s) {no_baseline[:5]} have no baseline row", file=path,
                         unit=source_unit(frame), rows=source_lines(frame.index[frame[pid].isin(no_baseline)]),
                         column=visit,
                         fix=f"add their {trial.baseline!r} row, or remove them with a documented reason")
    for o in config["outcomes"]:
        missing = baseline[o["column"]].isna()
        if missing.any():
            raise InputError(f"missing baseline {o['name']} score", file=path,
                             unit=source_unit(frame), rows=source_lines(baseline.index[missing]), column=o["column"],
                             fix="the change from baseline needs a baseline score for every participant")
    _check_key_visits(frame, config, trial)


def _check_key_visits(frame, config, trial):
    visit = config["columns"]["visit"]
    for v in trial.key_visits:
        observed = frame[frame[visit] == v][[o["column"] for o in config["outcomes"]]].notna().any(axis=1)
        if not observed.any():
            raise InputError(f"key visit {v!r} has no scores", file=config["data"]["path"], column=visit,
                             fix="check visits.key in the config and the visit labels in the data")


def check_analysable(analysis: pd.DataFrame, config: dict) -> None:
    """Refuse a trial whose primary analysis cannot run on these data, before any job runs.

    Checks, on the analysis table (:func:`pilottrial.data.table.derive_analysis_table`) and the
    config describing it:

    * every covariate and stratum (``analysis.covariates``, ``analysis.strata``) is given for
      some participant and takes at least two values (else its effect is not estimable);
    * the primary outcome has a post-baseline score in each arm (any score, in a raw-score
      analysis), and at least 2 participants per arm enter its model (with a baseline, in a
      change analysis, and the covariates);
    * at every key visit both arms have primary scores, and no visit has primary scores in one
      arm only (the arm x visit effect there would not be estimable).

    Secondary outcomes are not checked: an analysis they cannot support is reported as not
    estimable.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table (``participant, arm, visit, outcome, baseline, score, change`` and
        the covariates).
    config : dict
        The validated config describing it: arms, visits, outcomes, ``analysis.response``,
        ``analysis.covariates``, ``analysis.strata``; ``data.path`` names the file in messages.

    Raises
    ------
    pilottrial.errors.InputError
        On the first problem, in one line with the fix.

    Examples
    --------
    >>> table = pd.DataFrame({"participant": ["a", "a", "b", "b"], "arm": ["placebo"] * 2 + ["drug"] * 2,
    ...                       "visit": ["week0", "week4"] * 2, "outcome": "HAM-D", "baseline": [20.0] * 4,
    ...                       "score": [20.0, 15.0, 20.0, None], "change": [0.0, -5.0, 0.0, None]})
    >>> config = {"data": {"path": "trial.csv"}, "columns": {"arm": "arm", "visit": "visit"},
    ...           "arms": {"reference": "placebo", "treatment": "drug"},
    ...           "visits": {"baseline": "week0", "order": ["week0", "week4"]},
    ...           "outcomes": [{"name": "HAM-D", "column": "hamd", "primary": True}]}
    >>> check_analysable(table, config)
    Traceback (most recent call last):
    ...
    pilottrial.errors.InputError: error: trial.csv, column 'hamd': the primary outcome HAM-D has no post-baseline \
score in arm 'drug' -- fix: check the arm's scores in the data, or make an outcome with follow-up in both arms \
the primary one (outcomes[].primary)
    """
    trial = Trial.from_config(config)
    path = config["data"]["path"]
    cols = config.get("columns", {})
    settings = config.get("analysis", {}) or {}
    people = analysis.drop_duplicates("participant")
    for key in ("covariates", "strata"):
        for c in settings.get(key, []) or []:
            values = people[c].dropna() if c in people.columns else pd.Series(dtype=object)
            if values.empty:
                raise InputError(f"{key[:-1] if key == 'covariates' else 'stratum'} {c!r} is missing for every "
                                 f"participant", file=path, column=c, fix=f"fill it in, or remove it from analysis.{key}")
            if values.astype(str).nunique() < 2:
                value = values.iloc[0]
                shown = f"{value:g}" if isinstance(value, (int, float, np.number)) else repr(str(value))
                raise InputError(f"{'covariate' if key == 'covariates' else 'stratum'} {c!r} is {shown} for "
                                 f"every participant with a value, so its effect cannot be estimated", file=path,
                                 column=c, fix=f"remove it from analysis.{key}")
    covariates = list(dict.fromkeys(list(settings.get("covariates", []) or []) + list(settings.get("strata", []) or [])))
    primary = trial.primary
    spec = next((o for o in config["outcomes"] if str(o["name"]) == primary.name), {})
    column = spec.get("column") or spec.get("paramcd") or primary.name
    raw = trial.response == "raw"
    visits = list(trial.visit_order if raw else trial.post_baseline)
    rows = analysis[(analysis["outcome"] == primary.name) & analysis["visit"].isin(visits) & analysis["score"].notna()]
    when = "" if raw else "post-baseline "
    for arm in trial.arms:
        if not (rows["arm"] == arm).any():
            raise InputError(f"the primary outcome {primary.name} has no {when}score in arm {arm!r}", file=path,
                             column=column, fix="check the arm's scores in the data, or make an outcome with follow-up "
                                                "in both arms the primary one (outcomes[].primary)")
    used = rows.dropna(subset=([] if raw else ["baseline"]) + covariates)
    needs = " and ".join(filter(None, [f"a {when}{primary.name} score", "" if raw else "a baseline",
                                       "the covariates" if covariates else ""]))
    for arm in trial.arms:
        n = used.loc[used["arm"] == arm, "participant"].nunique()
        if n < 2:
            raise InputError(f"{n} participant(s) in arm {arm!r} have {needs}: the primary analysis needs at least 2 "
                             f"per arm", file=path, column=cols.get("arm"),
                             fix="check the arm's scores, baselines and covariates in the data")
    for visit in visits:
        arms = set(used.loc[used["visit"] == visit, "arm"])
        lacking = [a for a in trial.arms if a not in arms]
        if lacking and (visit in trial.key_visits or arms):
            kind = "key visit" if visit in trial.key_visits else "visit"
            raise InputError(f"{kind} {visit!r} has no {primary.name} score in arm {lacking[0]!r} that enters the "
                             f"primary analysis, so the arms cannot be compared there", file=path,
                             column=cols.get("visit"),
                             fix=f"check the visit labels and scores of arm {lacking[0]!r} at {visit!r}"
                                 + (", or choose other key visits (visits.key)" if kind == "key visit" else ""))
