"""The index page of several trials analysed in one run (results/index.html)."""

from __future__ import annotations

import html

__all__ = ["render_index"]


def render_index(trials: list[dict]) -> str:
    """A self-contained HTML page linking each trial's report.

    ``trials``: dicts with ``name``, ``title``, ``design`` and ``report`` (path relative to the
    index page), in the order given on the command line.
    """
    rows = "\n".join(
        f'<tr><td><a href="{html.escape(t["report"])}">{html.escape(t["name"])}</a></td>'
        f'<td>{html.escape(t["title"])}</td><td>{html.escape(t["design"])}</td></tr>'
        for t in trials)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>pilottrial: trials analysed</title>\n"
            "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}"
            "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;"
            "text-align:left}</style>\n</head>\n<body>\n<h1>Trials analysed</h1>\n<table>\n"
            "<caption>Each trial's statistical report</caption>\n"
            "<thead><tr><th scope=\"col\">Trial</th><th scope=\"col\">Title</th><th scope=\"col\">Design</th></tr>"
            f"</thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n</body>\n</html>\n")
