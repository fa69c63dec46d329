"""The report as a document model: every section built in CONSORT order, tables and figures numbered.

:func:`build_document` is the one entry point; :data:`SECTION_ORDER` lists the sections with
their titles and the part of the report they belong to.
"""

from __future__ import annotations

import sys
import traceback

import pandas as pd

from pilottrial.report.sections.appendix import (
    all_contrasts_section,
    checksums_section,
    config_section,
    covariance_section,
    descriptives_section,
    diagnostics_section,
    reproduce_section,
    software_section,
)
from pilottrial.report.sections.arms import (
    by_comparison,
    multi_arm_contrasts_section,
    multi_arm_outcomes_section,
    multi_arm_summary_section,
)
from pilottrial.report.sections.blocks import para
from pilottrial.report.sections.closing import limitations_section, planning_section, warnings_section
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.figure_blocks import figure_items
from pilottrial.report.sections.front import (
    design_section,
    estimands_section,
    methods_section,
    objectives_section,
    summary_section,
)
from pilottrial.report.sections.harms import harms_section
from pilottrial.report.sections.mechanism import mechanism_section
from pilottrial.report.sections.outcomes import (
    bayes_section,
    effect_sizes_section,
    outcomes_section,
    responders_section,
)
from pilottrial.report.sections.participants import baseline_section, feasibility_section, flow_section
from pilottrial.report.sections.robustness import missing_data_section, sensitivity_section

__all__ = ["SECTION_ORDER", "PARTS", "SECTION_FAILED", "build_document"]

#: Start of the paragraph that replaces a section whose builder failed (the rule's log has the traceback).
SECTION_FAILED = "This section could not be written"

#: Section ids in document order, with their titles and the part they belong to.
SECTION_ORDER = (
    ("summary", "Summary", "front"),
    ("contents", "Contents", "front"),
    ("objectives", "Objectives", "methods"),
    ("design", "Trial design", "methods"),
    ("estimands", "Estimands", "methods"),
    ("methods", "Statistical methods", "methods"),
    ("flow", "Participant flow", "results"),
    ("baseline", "Baseline data", "results"),
    ("feasibility", "Feasibility and progression criteria", "results"),
    ("outcomes", "Outcomes and estimation", "results"),
    ("effect-sizes", "Standardized effect sizes", "results"),
    ("bayes", "Bayesian reading", "results"),
    ("responders", "Responders and remission", "results"),
    ("sensitivity", "Sensitivity analyses", "results"),
    ("missing-data", "Missing data", "results"),
    ("harms", "Harms", "results"),
    ("mechanism", "Mechanism", "results"),
    ("other-figures", "Other figures", "results"),
    ("planning", "Planning the definitive trial", "discussion"),
    ("warnings", "Data warnings", "discussion"),
    ("limitations", "Limitations", "discussion"),
    ("diagnostics", "A.1 Model diagnostics", "appendix"),
    ("covariance", "A.2 Covariance structures and convergence", "appendix"),
    ("all-contrasts", "A.3 All treatment contrasts", "appendix"),
    ("descriptives", "A.4 Descriptive statistics", "appendix"),
    ("software", "A.5 Software", "appendix"),
    ("checksums", "A.6 Data checksums", "appendix"),
    ("config", "A.7 Configuration as used", "appendix"),
    ("reproduce", "A.8 Reproducing this report", "appendix"),
)

#: Titles of the parts of the report (the front matter has none).
PARTS = {
    "methods": "Introduction and methods",
    "results": "Results",
    "discussion": "Discussion",
    "appendix": "Appendix",
}


_BUILDERS = {
    "summary": summary_section,
    "objectives": objectives_section,
    "design": design_section,
    "estimands": estimands_section,
    "methods": methods_section,
    "flow": flow_section,
    "baseline": baseline_section,
    "feasibility": feasibility_section,
    "outcomes": outcomes_section,
    "effect-sizes": effect_sizes_section,
    "bayes": bayes_section,
    "responders": responders_section,
    "sensitivity": sensitivity_section,
    "missing-data": missing_data_section,
    "harms": harms_section,
    "mechanism": mechanism_section,
    "planning": planning_section,
    "other-figures": lambda c: c.figures_for("other-figures"),
    "warnings": warnings_section,
    "limitations": limitations_section,
    "diagnostics": diagnostics_section,
    "covariance": covariance_section,
    "all-contrasts": all_contrasts_section,
    "descriptives": descriptives_section,
    "software": software_section,
    "checksums": checksums_section,
    "config": config_section,
    "reproduce": reproduce_section,
}


#: Sections that a trial with three or more arms builds per comparison (:func:`~pilottrial.report.sections.arms.by_comparison`).
_PER_COMPARISON = ("effect-sizes", "bayes", "responders", "sensitivity", "missing-data", "harms", "mechanism",
                   "planning")


def _builders(context: Context) -> dict:
    """The section builders of this trial: those of a two-arm trial, or their k-arm forms."""
    if not context.multi_arm:
        return _BUILDERS
    builders = {sid: by_comparison(_BUILDERS[sid], sid) for sid in _PER_COMPARISON}
    builders.update({"summary": lambda c: multi_arm_summary_section(c, summary_section),
                     "outcomes": multi_arm_outcomes_section, "all-contrasts": multi_arm_contrasts_section})
    return {**_BUILDERS, **builders}


def build_document(config: dict, tables: dict[str, pd.DataFrame], figures: dict | None, provenance: dict,
                   warnings: list[str] | None = None) -> dict:
    """The report as a document model: sections in CONSORT order, tables and figures numbered.

    Parameters
    ----------
    config : dict
        The validated trial config.
    tables : dict
        ``{name: DataFrame}`` for the names in :data:`pilottrial.registry.TABLE_NAMES` (absent ones are reported as
        not produced).
    figures : dict
        ``{key: {"path": png, "caption": str, "section": str[, "alt": str]}}``; ``section`` is one
        of :data:`~pilottrial.report.sections.figure_blocks.FIGURE_SECTIONS` (or an alias); others
        go to "Other figures".
    provenance : dict
        See :func:`pilottrial.provenance.record.provenance`.
    warnings : list of str, optional
        Extra data warnings, listed before the generated ones.

    Returns
    -------
    dict
        ``{"sections": [...], "parts": [...]}``: the sections in order, and the same sections
        grouped by part (front, methods, results, discussion, appendix) for the template.
    """
    context = Context(config, tables, figure_items(figures), provenance, warnings)
    builders = _builders(context)
    sections = []
    for sid, title, part in SECTION_ORDER:
        if sid == "contents":
            continue
        try:
            blocks = builders[sid](context)
        except Exception as exc:  # noqa: BLE001 -- one section that cannot be written must not cost the report
            traceback.print_exc(file=sys.stderr)
            blocks = [para(f"{SECTION_FAILED} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
                           f"the log of the report rule has the details.", cls="section-failed")]
        if sid in ("other-figures", "planning") and not blocks:
            continue
        sections.append({"id": sid, "title": title, "part": part, "blocks": blocks})
    number = 0
    for section in sections:
        section["number"] = ""
        if section["part"] in ("methods", "results", "discussion"):
            number += 1
            section["number"] = str(number)
    n_table = n_figure = 0
    for section in sections:
        for block in section["blocks"]:
            if block["kind"] == "table":
                n_table += 1
                block["number"] = n_table
                block["id"] = f"table-{n_table}"
            elif block["kind"] == "figure":
                n_figure += 1
                block["number"] = n_figure
                block["id"] = f"figure-{n_figure}"
                block["alt"] = f"Figure {n_figure}: {block['alt']}"
    parts = []
    for section in sections:
        if not parts or parts[-1]["id"] != section["part"]:
            parts.append({"id": section["part"], "title": PARTS.get(section["part"], ""), "sections": []})
        parts[-1]["sections"].append(section)
    return {"sections": sections, "parts": parts}
