"""Reading a trial's data file as text, whatever its format.

Every reader returns the values as strings (as a CSV would give them), indexed by the source
line (text files), row (Excel) or record (Parquet, SAS, SPSS, Stata), so that a message can
name where a problem is (:func:`source_lines`, :func:`source_unit`).

Missing values are read as missing whatever the export wrote for them: empty cells and the
texts of :data:`MISSING`; SPSS user-missing values and Stata/SAS special missing values
(``.a``-``.z``), from the file's metadata; and the codes a config declares
(``data.missing_codes``, ``outcomes[].missing_codes``) in the score columns
(:func:`apply_missing_codes`). SPSS and Stata value labels of the arm and visit columns are used
when the config names the labels rather than the codes (:func:`apply_value_labels`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pilottrial.errors import InputError

__all__ = ["read_trial_data", "data_format", "FORMATS", "TEXT_FORMATS", "MISSING", "source_unit", "source_lines",
           "apply_missing_codes", "apply_value_labels", "label_columns", "score_columns"]

#: Cell values read as missing.
MISSING = ["", "NA", "NaN", "nan", "."]
#: File extension -> ``data.format``.
FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "excel", ".xlsm": "excel", ".parquet": "parquet",
    ".pq": "parquet", ".sas7bdat": "sas7bdat", ".xpt": "xpt", ".sav": "spss", ".zsav": "spss", ".dta": "stata",
}
#: Formats read as delimited text.
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


def source_unit(frame: pd.DataFrame) -> str:
    """What the index of a frame from :func:`read_trial_data` counts: ``line``, ``row`` or ``record``."""
    return frame.attrs.get("unit", "line")


def source_lines(index) -> list:
    """Sorted distinct source lines (rows, records) of an index of a frame read here."""
    return sorted({int(i) for i in index})


def _number_text(value) -> str:
    """A number as a CSV shows it: integral values without '.0' (``1.0`` -> ``"1"``)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as strings (as a CSV would give them): integral floats without '.0', NaN kept."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.astype(float)
            text = numbers.map(lambda v: np.nan if pd.isna(v) else _number_text(v))
            out[str(col)] = text.astype(object)
        else:  # text, or cells of mixed types (Excel): every cell as text
            out[str(col)] = values.astype(object).map(_cell_text).astype(object)
    return out


def _cell_text(value):
    """One cell as text: numbers as a CSV shows them, the texts of :data:`MISSING` as NaN."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return np.nan
    if isinstance(value, str):
        return np.nan if value.strip() in MISSING else value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return _number_text(value)
    return str(value)


def _value_labels(meta) -> dict:
    """``{column: {code text: label}}`` from pyreadstat metadata (SPSS and Stata value labels)."""
    out = {}
    for column, labels in (getattr(meta, "variable_value_labels", None) or {}).items():
        out[str(column)] = {(_number_text(code) if isinstance(code, (int, float)) else str(code)): str(label)
                            for code, label in labels.items()}
    return out


def label_columns(config: dict) -> dict:
    """The label columns of a config and the labels the config gives them: ``{column: [labels]}``.

    Parallel trials: ``columns.arm`` (the arms) and ``columns.visit`` (``visits.order``; not with
    ``visits.windows``, whose visits come from study days). Crossover: ``columns.treatment``
    (the arms), ``columns.sequence`` (``crossover.sequences``) and ``columns.period``
    (``crossover.periods``).
    """
    columns = config.get("columns") or {}
    arm_spec = config.get("arms") or {}
    arms = [str(arm_spec[k]) for k in ("reference", "treatment") if k in arm_spec]
    arms += [str(a) for a in arm_spec.get("treatments") or []]
    if (config.get("trial") or {}).get("design") == "crossover":
        crossover = config.get("crossover") or {}
        found = {columns.get("treatment"): arms, columns.get("sequence"): [str(s) for s in crossover.get("sequences", {})],
                 columns.get("period"): [_label(p) for p in crossover.get("periods", [])]}
    else:
        visits = config.get("visits") or {}
        found = {columns.get("arm"): arms}
        if not visits.get("windows"):
            found[columns.get("visit")] = [str(v) for v in visits.get("order", [])]
    return {column: labels for column, labels in found.items() if column and labels}


def _label(value) -> str:
    return _number_text(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def apply_value_labels(frame: pd.DataFrame, value_labels: dict, config: dict) -> pd.DataFrame:
    """Use the value labels of the label columns (:func:`label_columns`) when the config names
    the labels rather than the codes (SPSS and Stata store ``1 = "placebo", 2 = "drug"``).

    Per column, the reading (codes or labels) matching more of the config's labels is used; the
    codes are kept when the labels match none. When both readings match equally and differ, the
    config does not say which it means: :class:`~pilottrial.errors.InputError`, naming both.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data as text (changed in place and returned).
    value_labels : dict
        ``{column: {code text: label}}`` from the file's metadata.
    config : dict
        The trial config (:func:`label_columns`; ``data.path`` for messages).

    Examples
    --------
    >>> frame = pd.DataFrame({"arm": ["1", "2", "1"]})
    >>> config = {"columns": {"arm": "arm"}, "arms": {"reference": "placebo", "treatment": "drug"}}
    >>> apply_value_labels(frame, {"arm": {"1": "placebo", "2": "drug"}}, config)["arm"].tolist()
    ['placebo', 'drug', 'placebo']
    """
    path = config.get("data", {}).get("path")
    for column, configured in label_columns(config).items():
        labels = value_labels.get(column)
        if not labels or column not in frame.columns:
            continue
        codes = frame[column].map(lambda v: v.strip() if isinstance(v, str) else v)
        named = codes.map(lambda v, names=labels: names.get(v, v) if isinstance(v, str) else v)
        wanted = set(configured)
        by_code, by_label = wanted & set(codes.dropna()), wanted & set(named.dropna())
        if len(by_label) > len(by_code):
            frame[column] = named
        elif by_label and len(by_label) == len(by_code) and not codes.equals(named):
            shown = ", ".join(f"{code} = {label!r}" for code, label in list(labels.items())[:4])
            raise InputError(f"the config's labels {sorted(wanted)} match both the codes and the value labels of "
                             f"column {column!r} ({shown}), which differ", file=path, column=column,
                             fix=f"write every label of column {column!r} in the config either as its code "
                                 f"({sorted(set(codes.dropna()))}) or as its value label "
                                 f"({sorted(set(named.dropna()))}), so that one reading matches them all")
    return frame


def score_columns(config: dict) -> list:
    """The score columns of a config with the missing-value codes of each.

    Returns ``(column, paramcd, codes)`` triples: the columns of every outcome (``column``,
    ``columns`` of the wide layout, the ADaM value column) and its ``baseline_column``; ``paramcd``
    is the ADaM parameter whose records the codes apply to (None: every row); ``codes`` are
    ``data.missing_codes`` followed by ``outcomes[].missing_codes``.
    """
    data = config.get("data") or {}
    layout = data.get("layout", "long")
    common = list(data.get("missing_codes") or [])
    out = []
    for o in config.get("outcomes") or []:
        codes = common + list(o.get("missing_codes") or [])
        if not codes:
            continue
        if layout == "adam":
            columns = [(config.get("columns") or {}).get("value", "AVAL")]
        elif layout == "wide":
            columns = list((o.get("columns") or {}).values())
        else:
            columns = [o.get("column")]
        columns.append(o.get("baseline_column"))
        out += [(c, o.get("paramcd") if layout == "adam" else None, codes) for c in columns if c]
    return out


def _is_code(text: pd.Series, codes) -> pd.Series:
    """Cells equal to one of ``codes`` as text or as a number (-99 matches '-99' and '-99.0')."""
    stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    hit = stripped.isin({str(c).strip() for c in codes})
    numbers = [float(c) for c in codes if _as_float(c) is not None]
    if numbers:
        hit |= pd.to_numeric(stripped, errors="coerce").isin(numbers)
    return hit & text.notna()


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def apply_missing_codes(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Set the declared missing-value codes of the score columns (:func:`score_columns`) to
    missing, before any check (so ``999`` on a 0-80 scale is missing, not out of range).

    A code matches a cell equal to it as text or as a number: ``-99`` matches ``"-99"`` and
    ``"-99.0"``; ``"."`` matches ``"."``. ``frame`` (text) is changed in place and returned.

    Examples
    --------
    >>> frame = pd.DataFrame({"visit": ["1", "2", "3"], "hamd": ["12", "-99.0", "."]})
    >>> config = {"data": {"missing_codes": [-99, "."]}, "outcomes": [{"name": "HAM-D", "column": "hamd"}]}
    >>> apply_missing_codes(frame, config)["hamd"].tolist()
    ['12', nan, nan]
    """
    paramcd = (config.get("columns") or {}).get("paramcd", "PARAMCD")
    for column, param, codes in score_columns(config):
        if column not in frame.columns:
            continue
        hit = _is_code(frame[column], codes)
        if param is not None:
            hit &= frame[paramcd] == param if paramcd in frame.columns else False
        if hit.any():
            frame[column] = frame[column].where(~hit, np.nan)
    return frame


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

    Parameters
    ----------
    config : dict
        Trial config; read: ``data.path``, ``data.format`` (default: from the extension),
        ``data.header_row`` (default 1) and ``data.sheet`` (Excel, default the first).

    Returns
    -------
    pandas.DataFrame
        The file's columns as text (missing cells NaN), indexed by the source line (text and
        Excel: the row number in the file or sheet) or record number; ``attrs["unit"]`` says
        which.

    Notes
    -----
    Formats: CSV, TSV, Excel (.xlsx), Parquet, SAS (.sas7bdat, .xpt), SPSS (.sav), Stata (.dta),
    by extension or ``data.format`` (pandas and pyreadstat). Missing: empty cells, the texts of
    :data:`MISSING`, SPSS user-missing and Stata/SAS special missing values, and the declared
    codes of the score columns (:func:`apply_missing_codes`). SPSS/Stata value labels of the arm
    and visit columns replace the codes when the config names the labels
    (:func:`apply_value_labels`).

    Examples
    --------
    >>> from pilottrial.config import load_config
    >>> raw = read_trial_data(load_config("config/config.yaml"))
    >>> raw.index[0], raw.attrs["unit"], list(raw.columns[:4])
    (2, 'line', ['participant', 'arm', 'visit', 'age'])
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
    value_labels = {}
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
            # pyreadstat's default user_missing=False: SPSS user-missing values and Stata/SAS
            # special missing values (.a-.z) are read as missing
            values, meta = reader(str(path))
            frame = _as_text(values)
            value_labels = _value_labels(meta)
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
    frame = apply_missing_codes(apply_value_labels(frame, value_labels, config), config)
    return frame
