"""Reading a trial's data, checking it against its config, and deriving the analysis table.

The analysis table is tidy and long: one row per participant x visit x outcome with columns
``participant, arm, visit, outcome, baseline, score, change`` (``change = score - baseline``).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pilottrial.errors import InputError

__all__ = ["read_trial_data", "check_trial_data", "derive_analysis_table", "load_trial", "data_format", "FORMATS",
           "normalize_layout", "read_and_check", "check_identifiers", "model_covariates"]

MISSING = ["", "NA", "NaN", "nan", "."]


FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "excel", ".xlsm": "excel", ".parquet": "parquet",
    ".pq": "parquet", ".sas7bdat": "sas7bdat", ".xpt": "xpt", ".sav": "spss", ".zsav": "spss", ".dta": "stata",
}
TEXT_FORMATS = {"csv", "tsv"}


def data_format(config: dict) -> str:
    """``data.format``, else from the file extension (csv, tsv, excel, parquet, sas7bdat, xpt,
    spss, stata)."""
    data = config["data"]
    if data.get("format"):
        return data["format"]
    suffix = Path(data["path"]).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"unknown data file type {suffix!r}", file=data["path"],
                         fix=f"use one of {sorted(FORMATS)} or set data.format")
    return FORMATS[suffix]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as strings (as a CSV would give them): integral floats without '.0', NaN kept."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.astype(float)
            text = numbers.map(lambda v: np.nan if pd.isna(v) else (str(int(v)) if float(v).is_integer()
                                                                     else repr(float(v))))
            out[str(col)] = text.astype(object)
        else:
            text = values.astype(object).where(values.notna(), np.nan)
            out[str(col)] = text.map(lambda v: v if not isinstance(v, str) else (np.nan if v.strip() in MISSING else v))
    return out


def _read_text(path: Path, sep: str, header_row: int) -> pd.DataFrame:
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("data file is not UTF-8 text", file=path, rows=[line],
                         fix="save the file as UTF-8 (CSV UTF-8 in Excel)") from None
    kind = "comma" if sep == "," else "tab"
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=MISSING, encoding=encoding,
                           sep=sep, skiprows=header_row - 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot be read as {kind}-separated values ({str(exc).strip().splitlines()[-1]})",
                         file=path, fix=f"save the data as {kind}-separated values with one header line") from None


def read_trial_data(config: dict) -> pd.DataFrame:
    """Read the data file named in ``config['data']['path']`` as text (never modified).

    Formats: CSV, TSV, Excel (.xlsx), Parquet, SAS (.sas7bdat, .xpt), SPSS (.sav), Stata (.dta),
    by extension or ``data.format`` (pandas and pyreadstat). The returned frame is indexed by
    the source line (text and Excel: the row number in the file or sheet) or record number.
    """
    data = config["data"]
    path = Path(data["path"])
    if not path.is_file():
        raise InputError("data file not found", file=path,
                         fix="check data.path in the config (relative to where snakemake runs)")
    if path.stat().st_size == 0:
        raise InputError("data file is empty", file=path, fix="export the trial data again")
    fmt = data_format(config)
    header_row = int(data.get("header_row", 1))
    try:
        if fmt in TEXT_FORMATS:
            frame = _read_text(path, "," if fmt == "csv" else "\t", header_row)
        elif fmt == "excel":
            frame = _as_text(pd.read_excel(path, sheet_name=data.get("sheet", 0), header=header_row - 1,
                                           dtype=object))
        elif fmt == "parquet":
            frame = _as_text(pd.read_parquet(path))
        else:
            import pyreadstat

            reader = {"sas7bdat": pyreadstat.read_sas7bdat, "xpt": pyreadstat.read_xport,
                      "spss": pyreadstat.read_sav, "stata": pyreadstat.read_dta}[fmt]
            frame = _as_text(reader(str(path))[0])
    except InputError:
        raise
    except Exception as exc:  # a reader's own error: name the file and the format
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot be read as {fmt} ({message})", file=path,
                         fix="check the file type (data.format) and re-export it") from None
    if frame.empty:
        raise InputError("data file has a header but no rows", file=path, fix="export the trial data again")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed:")]
    if fmt == "excel" and len(unnamed) >= max(1, len(frame.columns) // 2):
        raise InputError(f"the header is not on row {header_row}: {len(unnamed)} of {len(frame.columns)} "
                         f"columns have no name", file=path, rows=[header_row],
                         fix="set data.header_row to the row holding the column names (e.g. 3 below a title)")
    # index = source line (text, Excel: header_row is the header, data start below it) or record
    start = header_row + 1 if fmt in TEXT_FORMATS | {"excel"} else 1
    frame.index = pd.RangeIndex(start, start + len(frame))
    frame.attrs["unit"] = "line" if fmt in TEXT_FORMATS else ("row" if fmt == "excel" else "record")
    return frame


def _unit(frame) -> str:
    return frame.attrs.get("unit", "line")


def _lines(index) -> list:
    return sorted({int(i) for i in index})  # frames are indexed by source line / record


# --- de-identification guard -------------------------------------------------------------
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


# --- layouts -------------------------------------------------------------------------------
def _check_scores(frame, config, pairs, unit_frame=None):
    """Numeric and in range, for (outcome, column) pairs of ``frame``; converts in place."""
    path = config["data"]["path"]
    for o, col in pairs:
        text = frame[col]
        numeric = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numeric.isna()
        if bad.any():
            raise InputError(f"{o['name']} score {text[bad].iloc[0]!r} is not a number", file=path,
                             unit=_unit(frame), rows=_lines(frame.index[bad]), column=col,
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
                             unit=_unit(frame), rows=_lines(frame.index[outside]), column=col,
                             fix="correct the score, or the outcome's range in the config")
        frame[col] = numeric.astype(float)


def _wide_to_long(frame, config):
    cols = config["columns"]
    path = config["data"]["path"]
    pid, arm = cols["participant"], cols["arm"]
    needed = [pid, arm] + [c for o in config["outcomes"] for c in o["columns"].values()]
    _missing_columns(frame, needed, path)
    dup = frame[pid].duplicated(keep=False) & frame[pid].notna()
    if dup.any():
        raise InputError(f"participant {frame.loc[dup, pid].iloc[0]!r} has more than one row in wide data",
                         file=path, unit=_unit(frame), rows=_lines(frame.index[dup]), column=pid,
                         fix="keep one row per participant in the wide layout")
    _check_scores(frame, config, [(o, c) for o in config["outcomes"] for c in o["columns"].values()])
    visits = [v for v in config["visits"]["order"] if any(v in o["columns"] for o in config["outcomes"])]
    parts = []
    for v in visits:
        part = frame[[pid, arm]].copy()
        part["visit"] = v
        for o in config["outcomes"]:
            part[o["name"]] = frame[o["columns"][v]] if v in o["columns"] else np.nan
        parts.append(part)
    long = pd.concat(parts)
    long.attrs.update(frame.attrs)
    return long, "visit", {o["name"]: o["name"] for o in config["outcomes"]}


def _adam_to_long(frame, config):
    cols = config["columns"]
    path = config["data"]["path"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    paramcd, value = cols.get("paramcd", "PARAMCD"), cols.get("value", "AVAL")
    if paramcd not in frame.columns:
        raise InputError(f"column {paramcd!r} not found: an ADaM BDS dataset selects outcomes by parameter code",
                         file=path, column=paramcd,
                         fix="export the BDS dataset with PARAMCD (or set columns.paramcd to its name)")
    _missing_columns(frame, [pid, arm, visit, value], path)
    if "ANL01FL" in frame.columns:
        frame = frame[frame["ANL01FL"].fillna("").str.upper() == "Y"]
    wanted = {o["paramcd"]: o for o in config["outcomes"]}
    absent = [p for p in wanted if p not in set(frame[paramcd])]
    if absent:
        raise InputError(f"PARAMCD value(s) {absent} not found (present: {sorted(frame[paramcd].dropna().unique())})",
                         file=path, column=paramcd, fix="correct outcomes[].paramcd in the config")
    frame = frame[frame[paramcd].isin(wanted)].copy()
    for code, o in wanted.items():
        sub = frame.loc[frame[paramcd] == code, [value]].copy()
        sub.attrs.update(frame.attrs)
        _check_scores(sub, config, [(o, value)])  # numeric and in range, per parameter
    frame[value] = pd.to_numeric(frame[value], errors="coerce").astype(float)
    baseline = config["visits"].get("baseline")
    if baseline and "ABLFL" in frame.columns:
        frame.loc[frame["ABLFL"].fillna("").str.upper() == "Y", visit] = baseline
    dup = frame.duplicated([pid, visit, paramcd], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise InputError(f"participant {first[pid]!r} has more than one {first[paramcd]} record at {first[visit]!r}",
                         file=path, unit=_unit(frame), rows=_lines(frame.index[dup]), column=visit,
                         fix="keep one analysis record per parameter and visit (ANL01FL = 'Y')")
    source_line = frame.groupby([pid, visit], sort=False).apply(lambda g: g.index.min(), include_groups=False)
    frame = frame.dropna(subset=[pid, arm, visit])
    long = frame.groupby([pid, arm, visit, paramcd], sort=False)[value].first().unstack(paramcd).reset_index()
    long.index = [source_line.get((p, v), 0) for p, v in zip(long[pid], long[visit])]
    long.columns.name = None
    for code in wanted:
        if code not in long.columns:
            long[code] = np.nan
    long.attrs.update(frame.attrs)
    return long, visit, {o["name"]: o["paramcd"] for o in config["outcomes"]}


def _apply_windows(frame, config):
    """Map study days to nominal visits by ``visits.windows``; nearest to the window's middle wins."""
    cols = config["columns"]
    path = config["data"]["path"]
    day = cols["day"]
    _missing_columns(frame, [day], path)
    days = pd.to_numeric(frame[day], errors="coerce")
    bad = frame[day].notna() & days.isna()
    if bad.any():
        raise InputError(f"study day {frame.loc[bad, day].iloc[0]!r} is not a number", file=path,
                         unit=_unit(frame), rows=_lines(frame.index[bad]), column=day,
                         fix="write study days as whole numbers")
    labels = pd.Series(np.nan, index=frame.index, dtype=object)
    distance = pd.Series(np.inf, index=frame.index)
    for label, (lo, hi) in config["visits"]["windows"].items():
        inside = (days >= lo) & (days <= hi)
        dist = (days - (lo + hi) / 2).abs()
        better = inside & (dist < distance)
        labels[better], distance[better] = label, dist[better]
    frame = frame.assign(**{cols.get("visit", "visit"): labels, "_distance": distance})
    frame = frame[frame[cols.get("visit", "visit")].notna()]
    frame = frame.sort_values("_distance", kind="stable")
    frame = frame[~frame.duplicated([cols["participant"], cols.get("visit", "visit")], keep="first")]
    return frame.drop(columns="_distance").sort_index()


def normalize_layout(frame: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, dict]:
    """Any layout to long: one row per participant x visit, one column per outcome.

    Returns the long frame (indexed by source line/record, for messages) and a config whose
    ``columns.visit`` and ``outcomes[].column`` name its columns. Drops ``data.drop_columns``
    and applies the de-identification guard first.
    """
    import copy

    config = copy.deepcopy(config)
    drop = [c for c in config["data"].get("drop_columns", []) if c in frame.columns]
    attrs = dict(frame.attrs)
    frame = frame.drop(columns=drop)
    frame.attrs.update(attrs)
    check_identifiers(frame, config)
    covariates = model_covariates(config)
    _missing_columns(frame, covariates, config["data"]["path"])
    pid = config["columns"]["participant"]
    per_participant = frame.groupby(pid, sort=False)[covariates].first() if covariates else None
    layout = config["data"]["layout"]
    if layout == "wide":
        frame, visit_col, outcome_cols = _wide_to_long(frame, config)
    elif layout == "adam":
        frame, visit_col, outcome_cols = _adam_to_long(frame, config)
    else:
        if config["visits"].get("windows"):
            frame = _apply_windows(frame, config)
            frame.attrs.update(attrs)
        return frame, config
    config["columns"]["visit"] = visit_col
    for o in config["outcomes"]:
        o["column"] = outcome_cols[o["name"]]
    for c in covariates:
        frame[c] = frame[pid].map(per_participant[c])
    frame.attrs.update(attrs)
    return frame, config


def model_covariates(config: dict) -> list:
    """Covariates and stratification factors named in the config, in order, without repeats."""
    a = config.get("analysis", {})
    return list(dict.fromkeys(list(a.get("covariates", [])) + list(a.get("strata", []))))


def read_and_check(config: dict) -> tuple[pd.DataFrame, dict]:
    """Read any format and layout, guard identifiers, check; returns the long frame and the
    config describing it (see :func:`normalize_layout`)."""
    frame, long_config = normalize_layout(read_trial_data(config), config)
    return check_trial_data(frame, long_config), long_config


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
        raise InputError("empty cell where a label is required", file=path, unit=_unit(frame), rows=_lines(frame.index[blank]),
                         column=col, fix="fill in the participant, arm and visit on every row")
    for o in outcomes:
        text = frame[o["column"]]
        numeric = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numeric.isna()
        if bad.any():
            example = text[bad].iloc[0]
            raise InputError(f"{o['name']} score {example!r} is not a number", file=path,
                             unit=_unit(frame), rows=_lines(frame.index[bad]), column=o["column"],
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
        return InputError(f"unknown arm label(s) {found}", file=path, unit=_unit(frame), rows=rows, column=column,
                          fix=f"use {config['arms']['reference']!r} or {config['arms']['treatment']!r}, "
                              f"or correct arms: in the config")
    if column == cols["visit"]:
        found = sorted(set(frame[column]) - set(config["visits"]["order"]))
        return InputError(f"unknown visit label(s) {found}", file=path, unit=_unit(frame), rows=rows, column=column,
                          fix=f"use the labels of visits.order {config['visits']['order']} or add them there")
    if "unique" in check or column in (None, "", cols["participant"]) or str(case.get("schema_context")) == "DataFrameSchema":
        dup = frame.duplicated([cols["participant"], cols["visit"]], keep=False)
        first = frame[dup].iloc[0]
        return InputError(f"participant {first[cols['participant']]!r} has more than one row for visit "
                          f"{first[cols['visit']]!r}", file=path, unit=_unit(frame), rows=_lines(frame.index[dup]),
                          column=cols["visit"], fix="keep one row per participant and visit")
    outcome = next(o for o in config["outcomes"] if o["column"] == column)
    value = case["failure_case"]
    return InputError(f"{outcome['name']} score {value:g} is outside its range {outcome.get('range')}",
                      file=path, unit=_unit(frame), rows=rows, column=column,
                      fix="correct the score, or the outcome's range in the config")


def _check_design(frame, config):
    path = config["data"]["path"]
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    arms_per = frame.groupby(pid)[arm].nunique()
    if (arms_per > 1).any():
        who = arms_per[arms_per > 1].index[0]
        raise InputError(f"participant {who!r} appears in more than one arm", file=path,
                         unit=_unit(frame), rows=_lines(frame.index[frame[pid] == who]), column=arm,
                         fix="each participant keeps the arm they were randomized to")
    present = set(frame[arm])
    for a in (config["arms"]["reference"], config["arms"]["treatment"]):
        if a not in present:
            raise InputError(f"no participant in arm {a!r}: a comparison needs both arms", file=path,
                             column=arm, fix="check the arm labels in the data and the config")
    if config["analysis"].get("response") == "raw" or "baseline" not in config["visits"]:
        _check_key_visits(frame, config)
        return
    baseline = frame[frame[visit] == config["visits"]["baseline"]]
    no_baseline = sorted(set(frame[pid]) - set(baseline[pid]))
    if no_baseline:
        raise InputError(f"participant(s) {no_baseline[:5]} have no baseline row", file=path,
                         unit=_unit(frame), rows=_lines(frame.index[frame[pid].isin(no_baseline)]), column=visit,
                         fix=f"add their {config['visits']['baseline']!r} row, or remove them with a documented reason")
    for o in config["outcomes"]:
        missing = baseline[o["column"]].isna()
        if missing.any():
            raise InputError(f"missing baseline {o['name']} score", file=path,
                             unit=_unit(frame), rows=_lines(baseline.index[missing]), column=o["column"],
                             fix="the change from baseline needs a baseline score for every participant")
    _check_key_visits(frame, config)


def _check_key_visits(frame, config):
    path = config["data"]["path"]
    visit = config["columns"]["visit"]
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
        if "baseline" in config["visits"]:
            base = t[t[visit] == config["visits"]["baseline"]].set_index(pid)["score"]
            t["baseline"] = t[pid].map(base)
        else:  # raw-score analysis without a baseline visit
            t["baseline"] = np.nan
        t["change"] = t["score"] - t["baseline"]
        t["outcome"] = o["name"]
        tables.append(t)
    out = pd.concat(tables, ignore_index=True).rename(columns={pid: "participant", arm: "arm", visit: "visit"})
    covariates = model_covariates(config)
    if covariates:
        per_participant = frame.groupby(pid, sort=False)[covariates].first()
        for c in covariates:
            values = out["participant"].map(per_participant[c])
            numeric = pd.to_numeric(values, errors="coerce")
            out[c] = numeric if numeric.notna().sum() == values.notna().sum() else values
    out["visit"] = pd.Categorical(out["visit"], categories=visits)
    out["outcome"] = pd.Categorical(out["outcome"], categories=[o["name"] for o in config["outcomes"]])
    out = out.sort_values(["outcome", "participant", "visit"]).reset_index(drop=True)
    out["visit"] = out["visit"].astype(str)
    out["outcome"] = out["outcome"].astype(str)
    return out[["participant", "arm", "visit", "outcome", "baseline", "score", "change"] + covariates]


def load_trial(config: dict) -> pd.DataFrame:
    """Read, check and derive in one call (for notebooks)."""
    frame, long_config = read_and_check(config)
    return derive_analysis_table(frame, long_config)
