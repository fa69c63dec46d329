"""Writing a figure: byte-stable PNG (and SVG beside it), then closing the figure.

The same figure gives the same bytes on every run: fixed dpi, no software or date metadata
(PNG ``Software``, SVG ``Date`` and ``Creator`` dropped), a fixed SVG hash salt (the ids of the
SVG elements), text drawn as paths, and nothing random in the figures themselves.

The PNG is RGB, not matplotlib's RGBA: the figures are opaque (a pixel that is not is
composited on white), and an alpha channel would only make the files larger and the PDF slower
(WeasyPrint splits it off and compresses it as a separate image).
"""

from __future__ import annotations

import io
from os import PathLike
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from pilottrial.report.figures.layout import fit_figure_labels, fit_texts, fit_xticks
from pilottrial.report.figures.style import DPI

__all__ = ["svg_path", "save_figure", "write_png"]

_SVG_RC = {"svg.hashsalt": "pilottrial", "svg.fonttype": "path"}


def svg_path(path: str | PathLike) -> Path:
    """The SVG written next to a PNG: ``Path(path).with_suffix(".svg")``."""
    return Path(path).with_suffix(".svg")


def write_png(fig: plt.Figure, path: str | PathLike, dpi: float = DPI) -> Path:
    """Write the figure as an RGB PNG (no metadata but the resolution); see the module docstring."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="rgba", dpi=dpi)
    data = buffer.getvalue()
    # the size of Agg's canvas at this dpi: the figure's size in pixels, truncated after a
    # floating-point product that can land just below or above the integer
    w, h = fig.get_figwidth() * dpi, fig.get_figheight() * dpi
    size = next(((a, b) for a in (int(w), int(w) + 1, int(w) - 1) for b in (int(h), int(h) + 1, int(h) - 1)
                 if 4 * a * b == len(data)), None)
    if size is None:
        raise ValueError(f"a {w:.1f} x {h:.1f} pixel figure gave {len(data)} bytes of RGBA")
    width, height = size
    rgba = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)
    image = Image.fromarray(rgba, "RGBA")
    if (rgba[..., 3] < 255).any():  # composite what is not opaque on white
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    image.convert("RGB").save(path, format="PNG", dpi=(dpi, dpi))
    return Path(path)


def _has_figure_labels(fig: plt.Figure) -> bool:
    """The figure has a title or x label and a visible panel, so :func:`fit_figure_labels`
    measures its panels."""
    texts = (getattr(fig, "_suptitle", None), getattr(fig, "_supxlabel", None))
    return (any(t is not None and t.get_visible() and t.get_text().strip() for t in texts)
            and any(ax.get_visible() for ax in fig.axes))


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
        arguments when a dict), then fit the text (:func:`~pilottrial.report.figures.layout.fit_xticks`
        for overlapping tick labels, :func:`~pilottrial.report.figures.layout.fit_figure_labels` for
        a figure title or x label that the panels reach into,
        :func:`~pilottrial.report.figures.layout.fit_texts` for titles and labels wider than the
        figure; nothing changes when everything fits); ``False`` keeps the layout as drawn.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    out = Path(path)
    try:
        if tight_layout is not False:
            options = dict(tight_layout) if isinstance(tight_layout, dict) else {}

            def layout():
                fig.tight_layout(**options)

            layout()
            if [ax for ax in fig.axes if fit_xticks(ax)]:
                layout()
            # one measurement serves the fits that follow as long as none of them changes the
            # figure: fit_figure_labels measures every panel (get_tightbbox), which places the
            # text as a drawing does, so fit_texts need not draw; after an unchanged fit_texts, a
            # second fit_figure_labels would measure the same and change nothing
            moved = fit_figure_labels(fig, options)
            measured = not moved and _has_figure_labels(fig)
            if fit_texts(fig, layout, drawn=measured) or moved:
                fit_figure_labels(fig, options)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_png(fig, out)
        if svg:
            with plt.rc_context(_SVG_RC):
                fig.savefig(svg_path(out), format="svg", dpi=DPI, metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    return out
