"""The one place where the report turns numbers and labels into text.

Every number shown in the HTML and PDF report goes through :func:`fmt_num` (and the helpers
built on it: :func:`fmt_p`, :func:`fmt_ci`, :func:`fmt_int`, :func:`fmt_pct`), so that a value
is rounded the same way wherever it appears. Missing or non-finite values (``None``, NaN,
±inf, ``pd.NA``, non-numeric text) render as an em dash (:data:`MISSING`), never as "nan",
"None" or "inf"; negative numbers use a real minus sign (:data:`MINUS`).

Counts in sentences go through :func:`plural` ("1 outcome", "3 outcomes"); rows that an
analysis marked not estimable (NaN numbers and a ``note`` starting "not estimable:") are shown
as "not estimable (reason)" by :func:`fmt_estimate` and :func:`not_estimable_text`.

Rounding conventions of the report
    * estimates, standard errors and interval limits on the outcome scale: 2 decimals
      (``ESTIMATE_DECIMALS``);
    * degrees of freedom: 1 decimal; p-values: 3 decimals, "< 0.001" below;
    * standardized effect sizes, correlations, odds ratios: 2 decimals;
    * proportions shown as percentages: 1 decimal; counts: integers.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

__all__ = [
    "and_list",
    "MISSING",
    "MINUS",
    "ESTIMATE_DECIMALS",
    "as_float",
    "fmt_num",
    "fmt_int",
    "fmt_p",
    "fmt_ci",
    "fmt_pct",
    "fmt_est_ci",
    "text_or_missing",
    "visit_label",
    "arm_label",
    "plural",
    "points",
    "not_estimable_reason",
    "not_estimable_text",
    "fmt_estimate",
    "percentage_points",
]

MISSING = "—"
MINUS = "−"
#: Decimals of estimates and interval limits on the outcome scale, everywhere in the report.
ESTIMATE_DECIMALS = 2


def _pandas_missing(x: Any) -> bool:
    """``x`` is pandas' NA or NaT (without importing pandas: the workflow reads labels from here
    when it starts)."""
    pd = sys.modules.get("pandas")
    return pd is not None and (x is pd.NA or x is pd.NaT)


def as_float(x: Any) -> float | None:
    """``x`` as a finite float, or ``None`` if it is missing, non-finite or not a number."""
    if x is None or _pandas_missing(x) or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return v


def fmt_num(x: Any, decimals: int = 2, *, signed: bool = False) -> str:
    """Format a number with fixed decimals and a real minus sign.

    Parameters
    ----------
    x : number or None
        Value to format. ``None``, NaN, ±inf and non-numeric values give "—".
    decimals : int, default 2
        Number of decimals.
    signed : bool, default False
        Prefix positive values with "+".

    Returns
    -------
    str
        E.g. ``fmt_num(-8.104) == "−8.10"``; ``-0.00`` is shown as ``0.00``.
    """
    v = as_float(x)
    if v is None:
        return MISSING
    text = f"{v:.{decimals}f}"
    if text.startswith("-"):
        body = text[1:]
        if float(body) == 0.0:
            return body
        return MINUS + body
    if signed and float(text) != 0.0:
        return "+" + text
    return text


def fmt_int(x: Any) -> str:
    """Format a count as an integer ("—" when missing)."""
    v = as_float(x)
    if v is None:
        return MISSING
    return fmt_num(round(v), 0)


def fmt_p(p: Any, *, prefix: bool = True) -> str:
    """Format a p-value as "p < 0.001" or with 3 decimals.

    Parameters
    ----------
    p : number or None
        The p-value; missing/non-finite gives "—" (``"p = —"`` with prefix).
    prefix : bool, default True
        Include the leading ``"p "``/``"p = "`` (text) or not (tables).
    """
    v = as_float(p)
    if v is None:
        return "p = " + MISSING if prefix else MISSING
    if v < 0.001:
        return "p < 0.001" if prefix else "< 0.001"
    text = fmt_num(min(v, 1.0), 3)
    return f"p = {text}" if prefix else text


def fmt_ci(lower: Any, upper: Any, decimals: int = 2) -> str:
    """Format a confidence interval as ``"−13.00 to −3.20"`` ("—" when both limits are missing)."""
    if as_float(lower) is None and as_float(upper) is None:
        return MISSING
    return f"{fmt_num(lower, decimals)} to {fmt_num(upper, decimals)}"


def fmt_est_ci(estimate: Any, lower: Any, upper: Any, decimals: int = 2) -> str:
    """``"−12.74 (−22.39 to −3.10)"``; the interval part is left out when it is missing."""
    ci = fmt_ci(lower, upper, decimals)
    est = fmt_num(estimate, decimals)
    return est if ci == MISSING else f"{est} ({ci})"


def fmt_pct(proportion: Any, decimals: int = 1, *, scale: float = 100.0) -> str:
    """A proportion (0-1) as a percentage, ``fmt_pct(0.8889) == "88.9%"``.

    ``scale=1`` formats a value that is already a percentage.
    """
    v = as_float(proportion)
    if v is None:
        return MISSING
    return f"{fmt_num(v * scale, decimals)}%"


def text_or_missing(x: Any) -> str:
    """Text of ``x``; "—" for None, NaN, ±inf and blank strings."""
    if x is None or _pandas_missing(x):
        return MISSING
    if isinstance(x, float) and not math.isfinite(x):
        return MISSING
    text = str(x)
    if not text.strip() or text.strip().lower() in {"nan", "none", "inf", "-inf", "null", "na", "<na>", "nat"}:
        return MISSING
    return text


_UNITS = {
    "min": ("minute", "minutes"), "h": ("hour", "hours"), "hr": ("hour", "hours"), "d": ("day", "days"),
    "w": ("week", "weeks"), "wk": ("week", "weeks"), "m": ("month", "months"), "mo": ("month", "months"),
    "y": ("year", "years"),
}
_VISIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(min|hr|h|d|wk|w|mo|m|y)\s*$", re.IGNORECASE)


_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")


def visit_label(visit: Any) -> str:
    """A visit label in words for sentences: ``"30d"`` -> ``"30 days"``, ``"24h"`` -> ``"24 hours"``.

    A bare number is a visit code or a study day: ``"15"`` -> ``"visit 15"``. Other labels that
    are not a number followed by a unit (``min, h, d, w, m, y``) are returned as they are
    (``"week 6"``, ``"post"``).
    """
    text = text_or_missing(visit)
    if _NUMBER.match(text):
        return f"visit {text.strip()}"
    match = _VISIT.match(text)
    if not match:
        return text
    number, unit = match.group(1), match.group(2).lower()
    singular, plural = _UNITS[unit]
    return f"{number} {singular if float(number) == 1 else plural}"


def plural(n: Any, singular: str, plural_form: str | None = None) -> str:
    """A count with its noun in the right number: ``plural(1, "outcome") == "1 outcome"``.

    Parameters
    ----------
    n : number or None
        The count (formatted by :func:`fmt_int`; "—" when missing, with the plural noun).
    singular : str
        The noun for one.
    plural_form : str, optional
        The noun for any other count; default ``singular + "s"`` (give irregular ones:
        ``plural(2, "analysis", "analyses")``, ``plural(4, "criterion", "criteria")``).
    """
    v = as_float(n)
    noun = singular if v is not None and round(v) == 1 else (plural_form or singular + "s")
    return f"{fmt_int(n)} {noun}"


_NOT_ESTIMABLE = re.compile(r"^\s*not estimable\b\s*[:;,.-]?\s*", re.IGNORECASE)
_NOT_ESTIMABLE_AFTER = re.compile(r"^(?P<reason>.*\S)\s*[:;,]\s*not estimable\.?\s*$", re.IGNORECASE | re.DOTALL)


def _row_values(row: Any) -> dict:
    """A result row (Series, dict or ``itertuples`` namedtuple) as a dict."""
    if hasattr(row, "_asdict"):
        return row._asdict()
    if hasattr(row, "to_dict"):
        return row.to_dict()
    return dict(row) if isinstance(row, dict) else {}


def not_estimable_reason(row: Any, column: str | None = None) -> str | None:
    """The reason a result row was marked not estimable, or None when it was not.

    The analyses mark such a row with a text that starts "not estimable: <reason>"
    (:func:`pilottrial.analyses.common.not_estimable`), in its ``note`` (``approximation`` in
    posterior.csv, ``or_note`` in responders.csv). ``column`` names the text to read; by default
    ``note``, then ``approximation``, then any text of the row. The reason is the text after
    "not estimable:" ("" when there is none); a note written the other way round,
    "<reason>: not estimable", gives the text before it.
    """
    values = _row_values(row)
    if column is not None:
        candidates = [values.get(column)]
    else:
        candidates = [values.get("note"), values.get("approximation")] + list(values.values())
    for note in candidates:
        if not isinstance(note, str):
            continue
        match = _NOT_ESTIMABLE.match(note)
        if match:
            return " ".join(note[match.end():].split()).rstrip(".")
        match = _NOT_ESTIMABLE_AFTER.match(note)
        if match:
            return " ".join(match.group("reason").split())
    return None


def not_estimable_text(reason: str | None) -> str:
    """``"not estimable (reason)"``, or ``"not estimable"`` without a reason."""
    reason = (reason or "").strip()
    return f"not estimable ({reason})" if reason else "not estimable"


def fmt_estimate(row: Any, decimals: int = 2, estimate: str = "estimate", lower: str = "ci_lower",
                 upper: str = "ci_upper", note: str | None = None) -> str:
    """The estimate and interval of a result row (:func:`fmt_est_ci`), or "not estimable (reason)".

    A row whose estimate is missing and that is marked not estimable (:func:`not_estimable_reason`,
    reading ``note`` when given) gives :func:`not_estimable_text`; any other row gives
    ``fmt_est_ci(estimate, lower, upper)`` ("—" when the numbers are missing).
    """
    values = _row_values(row)
    reason = not_estimable_reason(values, note)
    if reason is not None and as_float(values.get(estimate)) is None:
        return not_estimable_text(reason)
    return fmt_est_ci(values.get(estimate), values.get(lower), values.get(upper), decimals)


def arm_label(arm: Any) -> str:
    """An arm label for sentences and headers: a bare code ``"0"`` -> ``"arm 0"``; names as they are."""
    text = text_or_missing(arm)
    return f"arm {text.strip()}" if _NUMBER.match(text) else text


def and_list(items: list[str]) -> str:
    """``["a"]`` -> ``"a"``, ``["a", "b"]`` -> ``"a and b"``, ``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = [str(x) for x in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def percentage_points(*proportions: Any) -> tuple:
    """Proportions (0-1) as percentage points, ``None`` for a missing one (to pass to :func:`fmt_est_ci`)."""
    return tuple(None if as_float(p) is None else 100.0 * as_float(p) for p in proportions)


def points(x: Any, decimals: int = 0) -> str:
    """A score difference with its unit: ``points(10) == "10 points"``, ``points(1) == "1 point"``."""
    text = fmt_num(x, decimals)
    return f"{text} point" if text == "1" else f"{text} points"
