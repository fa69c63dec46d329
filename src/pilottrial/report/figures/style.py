"""The one look of every figure: Okabe-Ito colours by arm, the theme, font sizes and greys.

Styling is applied only through :func:`theme` (a :func:`matplotlib.pyplot.rc_context`), so no
matplotlib setting outlives a figure. The axes styles are seaborn 0.13's ``whitegrid`` and
``white`` written out as rcParams (seaborn's own ``image.cmap``, a seaborn colour map, is left
out: no figure draws an image), so drawing a figure does not import seaborn.

References
----------
Okabe M, Ito K. Color universal design (CUD): how to make figures and presentations that are
friendly to colorblind people. 2008. https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["OKABE_ITO", "DPI", "GREY", "MISSING_GREY", "arm_colours", "theme"]

#: Okabe-Ito colour-blind-safe palette (black omitted); the reference arm gets the first colour.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
)

#: Resolution of every PNG (and of the SVG's embedded raster parts).
DPI = 150
#: Reference lines (MCID, thresholds, identity lines) and secondary text.
GREY = "0.35"
#: A missing assessment in the missing-pattern grid.
MISSING_GREY = "#D9D9D9"

_WHITEGRID = {
    "figure.facecolor": "white",
    "axes.labelcolor": ".15",
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "axes.axisbelow": True,
    "grid.linestyle": "-",
    "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "xtick.top": False,
    "ytick.right": False,
    "axes.grid": True,
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "grid.color": ".8",
    "axes.spines.left": True,
    "axes.spines.bottom": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "xtick.bottom": False,
    "ytick.left": False,
}

_AXES = {
    "whitegrid": _WHITEGRID,  # data plots
    "white": {**_WHITEGRID, "axes.grid": False, "axes.edgecolor": ".15"},  # diagrams and grids
    "plain": {},  # matplotlib's defaults (the power curve draws its own grid)
}

_FONTS = {
    # the report figures (CONSORT, forest, waterfall, ...): 9 pt text, 8 pt ticks and legends
    "report": {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
               "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8},
    # the per-outcome panels (mean change, trajectories, crossover) and the power curve
    "panel": {"font.family": "DejaVu Sans", "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
              "legend.fontsize": 9},
}


#: Labels are text as the config and the data give them: "$" (a price, "Cost ($)") is a dollar
#: sign, never the start of a mathtext formula.
_TEXT = {"text.parse_math": False}


def arm_colours(arms) -> dict[str, str]:
    """Map arm names to Okabe-Ito colours in the given order.

    Parameters
    ----------
    arms : sequence of str
        Arms in display order; the first (reference) arm gets ``#0072B2`` and the second
        (treatment) arm ``#D55E00``.

    Returns
    -------
    dict
        Arm name to hex colour.
    """
    return {arm: OKABE_ITO[i % len(OKABE_ITO)] for i, arm in enumerate(arms)}


def theme(axes: str = "whitegrid", fonts: str = "report", rc: dict | None = None):
    """The rcParams of one figure, as a context manager (:func:`matplotlib.pyplot.rc_context`).

    Text is never parsed as mathtext (labels with "$" are drawn as they are).

    Parameters
    ----------
    axes : {"whitegrid", "white", "plain"}
        Axes style: light grid (data plots), no grid (diagrams), or matplotlib's defaults.
    fonts : {"report", "panel"}
        Font sizes: compact (the report figures) or larger (the per-outcome panels).
    rc : dict, optional
        Further rcParams, applied last.
    """
    return plt.rc_context({**_AXES[axes], **_FONTS[fonts], **_TEXT, **(rc or {})})
