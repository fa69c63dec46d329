"""Writing a figure: byte-stable PNG (and SVG beside it), then closing the figure.

The same figure gives the same bytes on every run: fixed dpi, no software or date metadata
(PNG ``Software``, SVG ``Date`` and ``Creator`` dropped), a fixed SVG hash salt (the ids of the
SVG elements), text drawn as paths, and nothing random in the figures themselves.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import matplotlib.pyplot as plt

from pilottrial.report.figures.style import DPI

__all__ = ["svg_path", "save_figure"]

_SVG_RC = {"svg.hashsalt": "pilottrial", "svg.fonttype": "path"}


def svg_path(path: str | PathLike) -> Path:
    """The SVG written next to a PNG: ``Path(path).with_suffix(".svg")``."""
    return Path(path).with_suffix(".svg")


def save_figure(fig: plt.Figure, path: str | PathLike, *, svg: bool = True,
                tight_layout: bool | dict = True) -> Path:
    """Lay out, write and close a figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is closed afterwards, also when writing fails.
    path : str or path-like
        The PNG to write (parent folders are created).
    svg : bool, default True
        Also write the SVG beside it (:func:`svg_path`).
    tight_layout : bool or dict, default True
        Call :meth:`~matplotlib.figure.Figure.tight_layout` first (with these keyword
        arguments when a dict); ``False`` keeps the layout as drawn.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    out = Path(path)
    try:
        if tight_layout is not False:
            fig.tight_layout(**(tight_layout if isinstance(tight_layout, dict) else {}))
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
        if svg:
            with plt.rc_context(_SVG_RC):
                fig.savefig(svg_path(out), format="svg", dpi=DPI, metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    return out
