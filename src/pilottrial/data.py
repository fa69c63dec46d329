"""Reading a trial's data, checking it against its config, and deriving the analysis table.

The analysis table is tidy and long: one row per participant x visit x outcome with columns
``participant, arm, visit, outcome, baseline, score, change`` (``change = score - baseline``).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .errors import InputError

__all__ = ["read_trial_data", "check_trial_data", "derive_analysis_table", "load_trial"]

MISSING = ["", "NA", "NaN", "nan", "."]


def read_trial_data(config: dict) -> pd.DataFrame:
    """Read the data file named in ``config['data']['path']`` as text (never modified)."""
    path = Path(config["data"]["path"])
    if not path.is_file():
        raise InputError("data file not found", file=path,
                         fix="check data.path in the config (relative to where snakemake runs)")
    if path.stat().st_size == 0:
        raise InputError("data file is empty", file=path, fix="export the trial data again")
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("data file is not UTF-8 text", file=path, rows=[line],
                         fix="save the file as UTF-8 (CSV UTF-8 in Excel)") from None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=MISSING, encoding=encoding)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot be read as CSV ({str(exc).strip().splitlines()[-1]})", file=path,
                         fix="save the data as comma-separated values with one header line") from None
    if frame.empty:
        raise InputError("data file has a header but no rows", file=path, fix="export the trial data again")
    return frame


def _lines(index) -> list:
    return sorted({int(i) + 2 for i in index})  # header is line 1


def _missing_columns(frame, needed, path):
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


def check_trial_data(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Check the raw table against the config; return it with numeric outcome columns.

    Checks: columns present; arm and visit labels known; one row per participant x visit;
    scores numeric and inside their range; a baseline score for every participant; each
    participant in one arm; both arms present. Raises :class:`InputError` on the first problem.
    """
    path = config["data"]["path"]
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    outcomes = config["outcomes"]
    _missing_columns(frame, [pid, arm, visit] + [o["column"] for o in outcomes], path)
    arms = [config["arms"]["reference"], config["arms"]["treatment"]]
    visits = list(config["visits"]["order"])
    frame = frame.copy()
    for c in (pid, arm, visit):
        frame[c] = frame[c].str.strip()
    blank = frame[[pid, arm, visit]].isna().any(axis=1)
    if blank.any():
        col = next(c for c in (pid, arm, visit) if frame.loc[blank, c].isna().any())
        raise InputError("empty cell where a label is required", file=path, rows=_lines(frame.index[blank]),
                         column=col, fix="fill in the participant, arm and visit on every row")
    for o in outcomes:
        text = frame[o["column"]]
        numeric = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numeric.isna()
        if bad.any():
            example = text[bad].iloc[0]
            raise InputError(f"{o['name']} score {example!r} is not a number", file=path,
                             rows=_lines(frame.index[bad]), column=o["column"],
                             fix="write scores as numbers and leave missing scores empty")
        frame[o["column"]] = numeric.astype(float)
    checks = {
        arm: pa.Column(str, pa.Check.isin(arms), nullable=False),
        visit: pa.Column(str, pa.Check.isin(visits), nullable=False),
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
        raise _pandera_error(exc.failure_cases, frame, config) from None
    _check_design(frame, config)
    return frame


def _pandera_error(cases: pd.DataFrame, frame, config) -> InputError:
    path = config["data"]["path"]
    cols = config["columns"]
    case = cases.iloc[0]
    column, check = case["column"], str(case["check"])
    same = cases[(cases["column"] == column) & (cases["check"].astype(str) == check)]
    rows = _lines(same["index"].dropna())
    if column == cols["arm"]:
        found = sorted(set(frame[column]) - {config["arms"]["reference"], config["arms"]["treatment"]})
        return InputError(f"unknown arm label(s) {found}", file=path, rows=rows, column=column,
                          fix=f"use {config['arms']['reference']!r} or {config['arms']['treatment']!r}, "
                              f"or correct arms: in the config")
    if column == cols["visit"]:
        found = sorted(set(frame[column]) - set(config["visits"]["order"]))
        return InputError(f"unknown visit label(s) {found}", file=path, rows=rows, column=column,
                          fix=f"use the labels of visits.order {config['visits']['order']} or add them there")
    if "unique" in check or column in (None, "", cols["participant"]) or str(case.get("schema_context")) == "DataFrameSchema":
        dup = frame.duplicated([cols["participant"], cols["visit"]], keep=False)
        first = frame[dup].iloc[0]
        return InputError(f"participant {first[cols['participant']]!r} has more than one row for visit "
                          f"{first[cols['visit']]!r}", file=path, rows=_lines(frame.index[dup]),
                          column=cols["visit"], fix="keep one row per participant and visit")
    outcome = next(o for o in config["outcomes"] if o["column"] == column)
    value = case["failure_case"]
    return InputError(f"{outcome['name']} score {value:g} is outside its range {outcome.get('range')}",
                      file=path, rows=rows, column=column,
                      fix="correct the score, or the outcome's range in the config")


def _check_design(frame, config):
    path = config["data"]["path"]
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    arms_per = frame.groupby(pid)[arm].nunique()
    if (arms_per > 1).any():
        who = arms_per[arms_per > 1].index[0]
        raise InputError(f"participant {who!r} appears in more than one arm", file=path,
                         rows=_lines(frame.index[frame[pid] == who]), column=arm,
                         fix="each participant keeps the arm they were randomized to")
    present = set(frame[arm])
    for a in (config["arms"]["reference"], config["arms"]["treatment"]):
        if a not in present:
            raise InputError(f"no participant in arm {a!r}: a comparison needs both arms", file=path,
                             column=arm, fix="check the arm labels in the data and the config")
    baseline = frame[frame[visit] == config["visits"]["baseline"]]
    no_baseline = sorted(set(frame[pid]) - set(baseline[pid]))
    if no_baseline:
        raise InputError(f"participant(s) {no_baseline[:5]} have no baseline row", file=path,
                         rows=_lines(frame.index[frame[pid].isin(no_baseline)]), column=visit,
                         fix=f"add their {config['visits']['baseline']!r} row, or remove them with a documented reason")
    for o in config["outcomes"]:
        missing = baseline[o["column"]].isna()
        if missing.any():
            raise InputError(f"missing baseline {o['name']} score", file=path,
                             rows=_lines(baseline.index[missing]), column=o["column"],
                             fix="the change from baseline needs a baseline score for every participant")
    for v in config["visits"]["key"]:
        observed = frame[frame[visit] == v][[o["column"] for o in config["outcomes"]]].notna().any(axis=1)
        if not observed.any():
            raise InputError(f"key visit {v!r} has no scores", file=path, column=visit,
                             fix="check visits.key in the config and the visit labels in the data")


def derive_analysis_table(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Long analysis table: participant, arm, visit, outcome, baseline, score, change.

    Every participant gets a row for every visit in ``visits.order`` and every outcome
    (missing scores stay missing), sorted by outcome (config order), participant, visit.
    """
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    visits = list(config["visits"]["order"])
    participants = frame[[pid, arm]].drop_duplicates().sort_values(pid)
    grid = participants.merge(pd.DataFrame({visit: visits}), how="cross")
    tables = []
    for o in config["outcomes"]:
        scores = frame[[pid, visit, o["column"]]].rename(columns={o["column"]: "score"})
        t = grid.merge(scores, on=[pid, visit], how="left")
        base = t[t[visit] == config["visits"]["baseline"]].set_index(pid)["score"]
        t["baseline"] = t[pid].map(base)
        t["change"] = t["score"] - t["baseline"]
        t["outcome"] = o["name"]
        tables.append(t)
    out = pd.concat(tables, ignore_index=True).rename(columns={pid: "participant", arm: "arm", visit: "visit"})
    out["visit"] = pd.Categorical(out["visit"], categories=visits)
    out["outcome"] = pd.Categorical(out["outcome"], categories=[o["name"] for o in config["outcomes"]])
    out = out.sort_values(["outcome", "participant", "visit"]).reset_index(drop=True)
    out["visit"] = out["visit"].astype(str)
    out["outcome"] = out["outcome"].astype(str)
    return out[["participant", "arm", "visit", "outcome", "baseline", "score", "change"]]


def load_trial(config: dict) -> pd.DataFrame:
    """Read, check and derive in one call (for notebooks)."""
    return derive_analysis_table(check_trial_data(read_trial_data(config), config), config)
