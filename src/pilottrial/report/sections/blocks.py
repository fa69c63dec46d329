"""The blocks a report section is made of: paragraph, list, sub-heading and table.

A section is a list of block dicts that the template ``report.html`` renders: ``{"kind": "p"}``
(a paragraph), ``"ul"`` (a list), ``"h4"`` (a sub-heading), ``"table"`` (caption, header rows,
groups of body rows, note), ``"figure"`` (:mod:`pilottrial.report.sections.figure_blocks`),
``"pre"`` (preformatted text) and ``"dl"`` (a definition list).
"""

from __future__ import annotations

from typing import Any

from pilottrial.report.format import MISSING, text_or_missing

__all__ = ["para", "bullets", "heading", "table_block"]


def para(text: str, cls: str = "") -> dict:
    """A paragraph."""
    return {"kind": "p", "text": text, "cls": cls}


def bullets(items: list[str], cls: str = "") -> dict:
    """A bulleted list."""
    return {"kind": "ul", "items": list(items), "cls": cls}


def heading(text: str) -> dict:
    """A sub-heading within a section."""
    return {"kind": "h4", "text": text}


def _cell(text: Any, *, num: bool = False, th: bool = False, scope: str = "", colspan: int = 1,
          cls: str = "") -> dict:
    """A table cell: its text ("—" when missing), header or data, scope, span and classes."""
    classes = " ".join(c for c in (("num" if num else ""), cls) if c)
    return {"text": text_or_missing(text) if not isinstance(text, str) else (text or MISSING),
            "th": th, "scope": scope, "colspan": colspan, "cls": classes}


def table_block(caption: str, columns: list[tuple[str, str]], rows: list[list[Any]] | None = None, *,
                groups: list[tuple[str | None, list[list[Any]]]] | None = None,
                spanners: list[tuple[str, int]] | None = None, note: str = "", cls: str = "") -> dict:
    """A table block.

    ``columns`` are ``(label, kind)`` with kind ``"text"`` or ``"num"``; the first column holds
    row headers (``<th scope="row">``). ``groups`` are ``(label, rows)``: each a ``<tbody>``
    headed by a ``<th scope="rowgroup">`` row when the label is given. ``spanners`` are
    column-group headers ``(label, span)`` over the columns (``""`` for an empty spanner cell).
    A row may end with a dict ``{"cls": ...}`` to set its class.
    """
    head = []
    if spanners:
        head.append([_cell(label, th=True, scope="colgroup" if label else "", colspan=span,
                           cls="spanner" if label else "")
                     for label, span in spanners])
    head.append([_cell(label, th=True, scope="col", num=(kind in ("num", "ci")), cls="ci" if kind == "ci" else "")
                 for label, kind in columns])
    body_groups = []
    for label, group_rows in (groups if groups is not None else [(None, rows or [])]):
        body = []
        for row in group_rows:
            row_cls = ""
            if row and isinstance(row[-1], dict):
                row_cls = row[-1].get("cls", "")
                row = row[:-1]
            cells = []
            for i, (value, (_, kind)) in enumerate(zip(row, columns)):
                if i == 0:
                    cells.append(_cell(value, th=True, scope="row"))
                else:
                    cells.append(_cell(value, num=(kind in ("num", "ci")),
                                       cls={"ci": "ci", "wtext": "wtext"}.get(kind, "")))
            body.append({"cls": row_cls, "cells": cells})
        body_groups.append({"label": label, "rows": body})
    # columns whose every cell is short never wrap (visit labels, counts, short definitions)
    for j in range(len(columns)):
        texts = [row["cells"][j]["text"] for group in body_groups for row in group["rows"] if j < len(row["cells"])]
        if texts and max(len(t) for t in texts) <= 18:
            for group in body_groups:
                for row in group["rows"]:
                    if j < len(row["cells"]):
                        cell = row["cells"][j]
                        cell["cls"] = (cell["cls"] + " nowrap").strip()
    n_rows = sum(len(group["rows"]) + (1 if group["label"] else 0) for group in body_groups)
    if n_rows <= 24:  # a short table is never split across pages (nor its caption left behind)
        cls = (cls + " keep").strip()
    return {"kind": "table", "caption": caption, "head": head, "groups": body_groups,
            "ncols": len(columns), "note": note, "cls": cls}

