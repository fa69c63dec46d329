"""The statistical report of a parallel pilot trial as a document model, section by section.

:func:`build_document` turns the config, the result tables of the pipeline
(``results/<trial>/tables/*.csv``, as DataFrames keyed by file stem), the figures and the
provenance record into a list of sections in the order of the CONSORT extension for pilot and
feasibility trials (Eldridge et al. 2016): summary, objectives, trial design, estimands,
methods; participant flow, baseline data, feasibility and progression criteria, outcomes and
estimation, effect sizes, Bayesian reading, responders, sensitivity analyses, missing data,
harms, mechanism; data warnings and limitations; an appendix with the model diagnostics, the
covariance structures used, all contrasts and descriptives, software versions, data checksums,
the config as used and how to reproduce the results.

Each section is a dict ``{"id", "title", "part", "blocks"}``; a block is a paragraph
(``{"kind": "p"}``), a list (``"ul"``), a sub-heading (``"h4"``), a table (``"table"``: caption,
header rows, groups of body rows, note), a figure (``"figure"``), preformatted text (``"pre"``)
or a definition list (``"dl"``). :mod:`pilottrial.report.document` renders the model with one template.
Every number goes through :mod:`pilottrial.report.format`; every sentence is generated from
the tables, so the text and the tables cannot disagree.

:func:`sensitivity_agreement` (public, tidy) decides whether each sensitivity analysis agrees
with the primary analysis; :func:`data_warnings` and :func:`limitations` generate those
sections from the tables.

Modules
-------
``context``
    :class:`~pilottrial.report.sections.context.Context`: the typed trial, the tables, the
    figures and the provenance record every section builder reads.
``blocks``, ``tables``, ``labels``, ``figure_blocks``, ``sentences``
    Block constructors, table look-ups, reader-facing names, embedded figures and the
    generated sentence of a contrast.
``front``, ``participants``, ``outcomes``, ``robustness``, ``harms``, ``mechanism``, ``closing``, ``appendix``
    The section builders, in the order of the report.
``build``
    :func:`build_document` and :data:`SECTION_ORDER`.

References
----------
Eldridge SM, Chan CL, Campbell MJ, et al. CONSORT 2010 statement: extension to randomised pilot
and feasibility trials. BMJ 2016;355:i5239.
"""

from __future__ import annotations

from pilottrial.registry import TABLE_NAMES, report_figure_specs
from pilottrial.report.sections.build import SECTION_ORDER, build_document
from pilottrial.report.sections.closing import data_warnings, limitations
from pilottrial.report.sections.figure_blocks import FIGURE_SECTIONS, figure_items
from pilottrial.report.sections.labels import ANALYSIS_LABELS, STRUCTURE_NAMES
from pilottrial.report.sections.robustness import AGREEMENT_DEFINITION, sensitivity_agreement
from pilottrial.report.sections.sentences import key_result_sentence

__all__ = [
    "TABLE_NAMES",
    "FIGURE_SECTIONS",
    "SECTION_ORDER",
    "STRUCTURE_NAMES",
    "ANALYSIS_LABELS",
    "AGREEMENT_DEFINITION",
    "build_document",
    "sensitivity_agreement",
    "data_warnings",
    "limitations",
    "key_result_sentence",
    "figure_items",
    "report_figure_specs",
]
