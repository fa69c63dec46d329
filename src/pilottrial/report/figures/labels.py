"""Text on the figures: numbers with a typographic minus, p values, interval levels, directions."""

from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["MINUS", "number", "p_value", "level_pct", "better_suffix", "favours", "at_visit", "legend_label",
           "shortened"]

MINUS = "\u2212"


def number(value: float, decimals: int = 1) -> str:
    """A number with a typographic minus sign; ``"NA"`` when not finite (``-0.0`` shows as ``0.0``)."""
    if value is None or not np.isfinite(value):
        return "NA"
    text = f"{value:.{decimals}f}"
    if text.lstrip("-").strip("0.") == "":  # -0.0 -> 0.0
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def p_value(p: float) -> str:
    """``<0.001``, else three decimals; ``"NA"`` when not finite."""
    if p is None or not np.isfinite(p):
        return "NA"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def level_pct(alpha: float) -> str:
    """The confidence level of a two-sided ``alpha``: ``0.05 -> "95%"``."""
    return f"{100 * (1 - alpha):g}%"


def better_suffix(better: str | None) -> str:
    """`` (lower is better)`` / `` (higher is better)``; empty for an unknown direction."""
    return f" ({better} is better)" if better in ("lower", "higher") else ""


def favours(better: str | None, reference: str, treatment: str) -> str:
    """Axis note on which side of a treatment - reference difference favours which arm."""
    if better == "lower":
        return f"\u2190 favours {treatment}    favours {reference} \u2192"
    if better == "higher":
        return f"\u2190 favours {reference}    favours {treatment} \u2192"
    return ""


def at_visit(visit) -> str:
    """A visit label after "at" in a title: a bare number is a visit code (``"29"`` -> ``"visit 29"``);
    other labels as they are (``"30d"``, ``"week 6"``)."""
    text = str(visit).strip()
    try:
        float(text)
    except ValueError:
        return text
    return f"visit {text}"


def legend_label(text: str, width: int = 30) -> str:
    """A legend entry on lines of at most ``width`` characters (long arm names would make the legend
    cover the data); short entries unchanged."""
    return text if len(text) <= width else textwrap.fill(text, width, break_long_words=False)


def shortened(text: str, width: int = 18) -> str:
    """``text`` cut at a word boundary to at most ``width`` characters, with an ellipsis when cut."""
    return text if len(text) <= width else textwrap.shorten(text, width, placeholder="\u2026")
