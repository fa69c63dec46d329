"""Reading a trial's data file as text, whatever its format.

Every reader returns the values as strings (as a CSV would give them), indexed by the source
line (text files), row (Excel) or record (Parquet, SAS, SPSS, Stata), so that a message can
name where a problem is (:func:`source_lines`, :func:`source_unit`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pilottrial.errors import InputError

__all__ = ["read_trial_data", "data_format", "FORMATS", "TEXT_FORMATS", "MISSING", "source_unit", "source_lines"]

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
    by extension or ``data.format`` (pandas and pyreadstat).

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
