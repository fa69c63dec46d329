"""Figures of the report: PNG files embedded as ``data:`` URIs and placed in their section.

The workflow names the figures and their sections in
:func:`pilottrial.registry.report_figure_specs`; :func:`figure_items` reads each PNG and makes
the figure block the template renders. :data:`FIGURE_SECTIONS` lists the section ids a figure
may name and their aliases; any other section goes to "Other figures".
"""

from __future__ import annotations

import base64
from os import PathLike
from pathlib import Path

__all__ = ["FIGURE_SECTIONS", "PNG_MAGIC", "figure_items"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Figure ``section`` values the report places (aliases on the right map to the ids on the left).
FIGURE_SECTIONS = {
    "flow": ("flow", "consort", "participant-flow", "participant flow"),
    "baseline": ("baseline", "table1", "table-1", "table 1"),
    "feasibility": ("feasibility", "progression"),
    "outcomes": ("outcomes", "primary", "secondary", "outcome", "efficacy"),
    "effect-sizes": ("effect-sizes", "effect_sizes", "effect sizes"),
    "bayes": ("bayes", "posterior", "bayesian"),
    "responders": ("responders", "responder", "waterfall"),
    "sensitivity": ("sensitivity", "forest"),
    "missing-data": ("missing-data", "missing_data", "missing data", "missing", "tipping", "tipping-point"),
    "harms": ("harms", "adverse-events", "adverse_events", "dissociation"),
    "mechanism": ("mechanism",),
    "planning": ("planning", "power", "sample-size"),
    "diagnostics": ("diagnostics", "residuals", "residual-diagnostics", "appendix", "model-diagnostics"),
}
_FIGURE_ALIASES = {alias: key for key, aliases in FIGURE_SECTIONS.items() for alias in aliases}


def _normalize_figures(figures: dict | None) -> list[dict]:
    """``{key: {"path", "caption", "section"[, "alt"]}}`` (or the older ``{caption: path}``)."""
    items = []
    for key, spec in (figures or {}).items():
        if isinstance(spec, (str, PathLike)):
            spec = {"path": spec, "caption": str(key), "section": "outcomes"}
        spec = dict(spec)
        section = str(spec.get("section", "")).strip().lower()
        items.append({
            "key": str(key),
            "path": spec["path"],
            "caption": str(spec.get("caption") or key).strip(),
            "alt": str(spec.get("alt") or "").strip(),
            "section": _FIGURE_ALIASES.get(section, _FIGURE_ALIASES.get(section.replace("_", "-"),
                                                                       "other-figures")),
            "outcome": str(spec.get("outcome") or ""),
            "wide": bool(spec.get("wide")),
        })
    return items


def figure_items(figures: dict | None) -> list[dict]:
    """Figure blocks (PNG embedded as ``data:`` URI, alt text, caption, section), in dict order.

    Raises
    ------
    ValueError
        If a figure file is not a PNG.
    """
    blocks = []
    for item in _normalize_figures(figures):
        data = Path(item["path"]).read_bytes()
        if not data.startswith(PNG_MAGIC):
            raise ValueError(f"figure {item['key']!r} at {item['path']} is not a PNG file")
        caption = item["caption"]
        alt = item["alt"] or (caption if caption else f"Figure {item['key']}")
        blocks.append({"kind": "figure", "key": item["key"], "section": item["section"], "outcome": item["outcome"],
                       "caption": caption, "alt": alt,
                       "cls": f"fig-{item['section']}" + (" fig-wide" if item["wide"] else ""),
                       "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")})
    return blocks

