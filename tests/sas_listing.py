"""Parse the printed listing of SAS PROC MIXED (the ``.lst`` text) into numbers and tables.

Pure functions, no pytest: used by tests/models/test_mmrm_sas.py to read the reference listings in
``<reference>/fev/sas/`` and ``<reference>/fev/kenward_roger/`` at test time, so that the expected
values are the numbers SAS printed rather than hand-copied ones.

What the parser copes with:

* page breaks -- a form feed, the title line ``The SAS System  <date>  <page>`` and
  ``The Mixed Procedure`` can fall in the middle of a table, after which SAS repeats the table's
  title and column header; all pieces of a table are joined;
* column headers split over two lines (``Standard`` / ``Error``, ``Cov`` / ``Parm``);
* class levels containing blanks (``Black or African American``), located by the column
  positions of the header;
* ``.`` (missing, e.g. the reference-level rows of the fixed-effect solution) and ``<.0001``;
* PROC PRINT output appended after the PROC MIXED tables (ignored).

Numbers are returned as printed (SAS rounds them to 4 decimals or 5 significant digits, and
degrees of freedom to integers); p-values printed ``<.0001`` are returned as ``1e-4`` with
``p_value_below = True``.
"""

from __future__ import annotations

import math
import re

import pandas as pd

__all__ = [
    "neg2_loglik",
    "fit_statistics",
    "covariance_parameters",
    "fixed_effects",
    "lsmeans",
    "lsmean_differences",
    "class_levels",
    "iteration_history",
]

# Titles of the PROC MIXED tables; a table runs from its title to the next title.
_TITLES = (
    "Model Information",
    "Class Level Information",
    "Dimensions",
    "Number of Observations",
    "Iteration History",
    "Convergence criteria met.",
    "Covariance Parameter Estimates",
    "Asymptotic Covariance Matrix of Estimates",
    "Fit Statistics",
    "Null Model Likelihood Ratio Test",
    "Solution for Fixed Effects",
    "Type 3 Tests of Fixed Effects",
    "Least Squares Means",
    "Differences of Least Squares Means",
    "Tests of Effect Slices",
    "Estimates",
    "Contrasts",
)
_TITLE_PREFIXES = ("Estimated R", "Estimated G", "Estimated V", "Matrix for ")
_END_OF_PROC = "\x00end of PROC MIXED output"
_PAGE_TITLE = re.compile(r"^\s*The SAS System\b")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


# ---- low level ---------------------------------------------------------------------------
def _clean_lines(text: str) -> list[str]:
    """Lines of the listing without page headers; PROC PRINT pages become an end marker."""
    raw = [line.replace("\f", "").rstrip("\r").rstrip() for line in text.split("\n")]
    out: list[str] = []
    i = 0
    while i < len(raw):
        line = raw[i]
        if _PAGE_TITLE.match(line):
            j = i + 1
            while j < len(raw) and not raw[j].strip():
                j += 1
            if j < len(raw) and raw[j].strip() == "The Mixed Procedure":
                i = j + 1  # a page break inside PROC MIXED output: drop the header
                continue
            out.append(_END_OF_PROC)  # another procedure's page (e.g. PROC PRINT)
            i += 1
            continue
        if line.strip() == "The Mixed Procedure":
            i += 1
            continue
        out.append(line)
        i += 1
    return out


def _is_title(line: str) -> bool:
    s = line.strip()
    return line == _END_OF_PROC or s in _TITLES or s.startswith(_TITLE_PREFIXES)


def _section(text: str, title: str) -> list[str]:
    """Body lines of every occurrence of table ``title`` (joined across page breaks)."""
    lines = _clean_lines(text)
    body: list[str] = []
    inside = False
    for line in lines:
        if _is_title(line):
            inside = line.strip() == title
            continue
        if inside:
            body.append(line)
    return body


def _tokens(line: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]


def _is_value(token: str) -> bool:
    return token in (".", "<.0001", "Infty", "-Infty") or bool(_NUMBER.match(token))


def _value(token: str) -> float:
    if token == ".":
        return math.nan
    if token == "<.0001":
        return 1e-4
    if token in ("Infty", "-Infty"):
        return math.inf if token == "Infty" else -math.inf
    return float(token)


_NUMERIC_HEADERS = re.compile(
    r"Estimate|Error|DF|t Value|Pr > \|t\||Alpha|Lower|Upper|Z Value|Pr > Z|Pr Z|"
    r"Chi-Square|F Value|Pr > ChiSq|Pr > F"
)


def _table(body: list[str], first_numeric: str = "Estimate") -> list[dict]:
    """Rows of a table whose header line contains ``first_numeric``.

    Text columns are the header labels left of ``first_numeric``; each text token of a row is
    given to the rightmost text column starting at or before it (so levels with blanks stay
    together). Numeric columns are counted from the header and read from the row's right end.
    """
    rows = []
    text_cols: list[tuple[int, str]] = []
    numeric_names: list[str] = []
    for line in body:
        if not line.strip():
            continue
        tokens = _tokens(line)
        labels = [t for _, t in tokens]
        if first_numeric in labels:
            cut = labels.index(first_numeric)
            text_cols = _merge_labels(tokens[:cut])
            numeric_names = _NUMERIC_HEADERS.findall(" ".join(labels[cut:]))
            continue
        n = len(numeric_names)
        if not n or len(tokens) < n or not all(_is_value(t) for _, t in tokens[-n:]):
            continue  # the upper line of a two-line header, a note, ...
        row = {name: "" for _, name in text_cols}
        for pos, tok in tokens[:-n]:
            col = text_cols[0][1]
            for start, name in text_cols:
                if start <= pos + 1:
                    col = name
            row[col] = f"{row[col]} {tok}".strip()
        for name, (_, tok) in zip(numeric_names, tokens[-n:]):
            row[name] = tok
        rows.append(row)
    return rows


def _merge_labels(tokens: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Header labels of the text columns; ``Cov Parm`` is one column (``Parm`` alone when the
    header is split over two lines)."""
    out: list[tuple[int, str]] = []
    for pos, tok in tokens:
        if tok == "Parm" and out and out[-1][1] == "Cov":
            out[-1] = (out[-1][0], "Cov Parm")
        elif tok == "Parm":
            out.append((pos, "Cov Parm"))
        else:
            out.append((pos, tok))
    return out


_RENAME = {
    "Effect": "effect",
    "Estimate": "estimate",
    "Error": "std_error",
    "DF": "df",
    "t Value": "t_value",
    "Pr > |t|": "p_value",
    "Alpha": "alpha",
    "Lower": "ci_lower",
    "Upper": "ci_upper",
}


def _inference_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    p_below = frame["Pr > |t|"].eq("<.0001") if "Pr > |t|" in frame else None
    for col in frame.columns:
        if col in _RENAME and col != "Effect":
            frame[col] = frame[col].map(_value)
    frame = frame.rename(columns=_RENAME)
    if p_below is not None:
        frame["p_value_below"] = p_below.to_numpy()
    return frame


# ---- public API --------------------------------------------------------------------------
def iteration_history(text: str) -> pd.DataFrame:
    """Iteration history: ``iteration, evaluations, objective, criterion`` (objective = -2 (Res)
    Log Like, printed with 8 decimals)."""
    rows = []
    for line in _section(text, "Iteration History"):
        toks = line.split()
        if len(toks) in (3, 4) and all(_NUMBER.match(t) for t in toks):
            rows.append({
                "iteration": int(toks[0]),
                "evaluations": int(toks[1]),
                "objective": float(toks[2]),
                "criterion": float(toks[3]) if len(toks) == 4 else math.nan,
            })
    return pd.DataFrame(rows, columns=["iteration", "evaluations", "objective", "criterion"])


def fit_statistics(text: str) -> dict:
    """Fit Statistics: keys ``-2LL`` (as printed, 1 decimal), ``AIC``, ``AICC``, ``BIC``."""
    out = {}
    for line in _section(text, "Fit Statistics"):
        m = re.match(r"^\s*(-2 (?:Res )?Log Likelihood|AIC|AICC|BIC|CAIC|HQIC)\b.*?(\S+)\s*$", line)
        if m and _NUMBER.match(m.group(2)):
            key = "-2LL" if m.group(1).startswith("-2") else m.group(1)
            out[key] = float(m.group(2))
    return out


def neg2_loglik(text: str) -> float:
    """-2 (restricted) log-likelihood at SAS's final iterate: the last line of the iteration
    history (8 decimals) when present, else the Fit Statistics value (1 decimal)."""
    history = iteration_history(text)
    if len(history):
        return float(history["objective"].iloc[-1])
    stats = fit_statistics(text)
    if "-2LL" not in stats:
        raise ValueError("no iteration history and no -2 log likelihood in the listing")
    return stats["-2LL"]


def covariance_parameters(text: str) -> pd.DataFrame:
    """Covariance Parameter Estimates: ``parameter, subject, group_effect, group, estimate``
    (and the confidence limits when printed). ``group`` is the level (``PBO`` for SAS's
    ``ARMCD PBO``), ``""`` without GROUP=."""
    rows = _table(_section(text, "Covariance Parameter Estimates"))
    out = []
    for row in rows:
        printed_group = row.get("Group", "")
        effect, _, level = printed_group.partition(" ")
        rec = {
            "parameter": row["Cov Parm"],
            "subject": row.get("Subject", ""),
            "group_effect": effect if level else "",
            "group": level if level else printed_group,
            "estimate": _value(row["Estimate"]),
        }
        for name, key in (("Lower", "ci_lower"), ("Upper", "ci_upper"), ("Error", "std_error")):
            if name in row:
                rec[key] = _value(row[name])
        out.append(rec)
    return pd.DataFrame(out, columns=None if out else ["parameter", "subject", "group_effect",
                                                       "group", "estimate"])


def fixed_effects(text: str) -> pd.DataFrame:
    """Solution for Fixed Effects without the aliased reference-level rows (SE ``.``):
    ``effect``, one column per class variable (SAS's names, ``""`` where not applicable),
    ``estimate, std_error, df, t_value, p_value, p_value_below``."""
    frame = _inference_frame(_table(_section(text, "Solution for Fixed Effects")))
    return frame[frame["std_error"].notna()].reset_index(drop=True)


def lsmeans(text: str) -> pd.DataFrame:
    """Least Squares Means: ``effect``, the class columns, ``estimate, std_error, df, t_value,
    p_value, p_value_below`` and ``alpha, ci_lower, ci_upper`` when printed."""
    return _inference_frame(_table(_section(text, "Least Squares Means")))


def lsmean_differences(text: str) -> pd.DataFrame:
    """Differences of Least Squares Means: ``effect``, the class columns of the first LS-mean
    (e.g. ``AVISIT, ARMCD``) and of the second (``_AVISIT, _ARMCD``), then as :func:`lsmeans`."""
    return _inference_frame(_table(_section(text, "Differences of Least Squares Means")))


def class_levels(text: str) -> dict:
    """Class Level Information: ``{variable: printed values}`` (continuation lines joined
    with one blank; levels containing blanks cannot be split apart, so split only where the
    levels are known to be blank-free, e.g. ``class_levels(t)["AVISIT"].split()``)."""
    out: dict[str, str] = {}
    name = None
    value_col = None
    for line in _section(text, "Class Level Information"):
        tokens = _tokens(line)
        if not tokens:
            continue
        if [t for _, t in tokens[:3]] == ["Class", "Levels", "Values"]:
            value_col = tokens[2][0]
            continue
        if value_col is None:
            continue
        if tokens[0][0] < value_col and len(tokens) >= 3 and tokens[1][1].isdigit():
            name = tokens[0][1]
            out[name] = line[value_col:].strip()
        elif name is not None and tokens[0][0] >= value_col:
            out[name] = f"{out[name]} {line.strip()}"
    return out
