"""Figures (and Table 1) that a journal reviewer or a data monitoring committee expects.

Every ``plot_*`` function takes tidy tables of the pipeline and the trial config, writes the
figure -- ``path`` as PNG and, for the report figures, the same figure as SVG beside it
(:func:`svg_path`) -- and returns what it drew (a tidy table, or for the CONSORT diagram a dict
of counts), so that a test or a report can check the numbers.

===========================  ===================  =====================================================
function                     module               figure
===========================  ===================  =====================================================
:func:`plot_consort`         ``consort``          CONSORT flow diagram
:func:`plot_mean_change`     ``outcomes``         mean change from baseline by arm (PNG only)
:func:`plot_mean_score`      ``outcomes``         mean score by arm at every visit
:func:`plot_trajectories`    ``outcomes``         individual trajectories by arm (PNG only)
:func:`plot_forest`          ``forest``           MMRM treatment differences at the key visits
:func:`plot_waterfall`       ``waterfall``        percent change from baseline per participant
:func:`plot_responders`      ``responders``       responder and remission proportions
:func:`plot_missing_pattern` ``missing``          observed and missing assessments
:func:`plot_tipping`         ``missing``          the delta-adjusted tipping-point analysis
:func:`plot_residuals`       ``diagnostics``      MMRM residual diagnostics
:func:`plot_crossover`       ``crossover``        crossover trial: change by sequence (PNG only)
:func:`plot_power_curve`     ``power``            power of the definitive trial (PNG only)
:func:`table_one`            ``baseline_table``   Table 1 with standardized mean differences
===========================  ===================  =====================================================

Shared parts: ``style`` (Okabe-Ito colours by arm, theme and font sizes), ``save`` (the one
byte-stable writer), ``labels`` (text on the figures), ``common`` (order of arms, visits and
outcomes), ``layout`` (text that must fit: overlapping tick labels rotated or thinned, titles
and labels wrapped, the figure drawn when there is nothing to plot or a figure cannot be drawn)
and ``limits`` (when a figure aggregates or samples for a large trial). Every figure fits any
trial: 10 to 5,000 participants, 1 to 12 post-baseline visits, 1 to 6 outcomes, any labels. Importing the library never sets matplotlib's backend: a script sets it
(``matplotlib.use("Agg")``) before drawing. The names are imported on first use, so a script
drawing one figure loads only that figure's module.

Suggested file names under ``results/<trial>/``: ``figures/consort.png``,
``figures/<outcome>_mean_score.png``, ``figures/forest.png``,
``figures/<outcome>_waterfall.png``, ``figures/responders.png``,
``figures/<outcome>_missing_pattern.png``, ``figures/tipping_point.png``,
``figures/<outcome>_residuals.png`` (each with its ``.svg``) and ``tables/table_one.csv``
(``<outcome>`` is :func:`pilottrial.registry.outcome_slug`).
"""

from __future__ import annotations

from importlib import import_module

_MODULES = {
    "plot_consort": "consort",
    "plot_mean_change": "outcomes",
    "plot_mean_score": "outcomes",
    "plot_trajectories": "outcomes",
    "mean_ci": "outcomes",
    "plot_forest": "forest",
    "plot_waterfall": "waterfall",
    "plot_responders": "responders",
    "plot_missing_pattern": "missing",
    "plot_tipping": "missing",
    "plot_residuals": "diagnostics",
    "plot_crossover": "crossover",
    "plot_power_curve": "power",
    "table_one": "baseline_table",
    "standardized_mean_difference": "baseline_table",
    "svg_path": "save",
    "save_figure": "save",
    "texts_outside": "layout",
    "placeholder_figure": "layout",
    "draw_or_placeholder": "layout",
    "arm_colours": "style",
    "OKABE_ITO": "style",
}

__all__ = list(_MODULES)


def __getattr__(name: str):
    """Import a public name from its module on first use (PEP 562)."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
