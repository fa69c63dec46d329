"""Checking a trial's data against its config, and the de-identification guard.

Every check raises :class:`~pilottrial.errors.InputError` on the first problem, naming the
file, the source lines, the column and the fix.
"""

from __future__ import annotations

import difflib
import re

import pandas as pd
import pandera.pandas as pa

from pilottrial.config.trial import Trial
from pilottrial.data.readers import source_lines, source_unit
from pilottrial.errors import InputError

__all__ = ["check_trial_data", "check_identifiers", "check_scores", "missing_columns"]

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
        frame[c] = frame[c].str.strip()
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


def _as_number(label):
    try:
        return float(label)
    except (TypeError, ValueError):
        return None


def quoting_hint(found, configured, key: str) -> str | None:
    """A fix for labels that the data and the config write differently as numbers ('01' and 1,
    '1.0' and 1): labels are compared as text, so the config must write them as the data do, in
    quotes. None when no found label matches a configured one as a number."""
    pairs = [(f, c) for f in found for c in configured
             if _as_number(f) is not None and _as_number(f) == _as_number(c) and str(f) != str(c)]
    if not pairs:
        return None
    shown = ", ".join(f"'{f}' (config: {c})" for f, c in pairs[:3])
    return (f"labels are text: the data write {shown}; write them in {key} exactly as in the data, in quotes "
            f"(e.g. '{pairs[0][0]}')")


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
            f"use {trial.reference!r} or {trial.treatment!r}, or correct arms: in the config"
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
