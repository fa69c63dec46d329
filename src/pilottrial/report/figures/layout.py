"""Fitting text into a figure: tick labels that would overlap, titles and labels wider than the
figure, and the figure drawn when there is nothing to plot.

A figure of any trial -- 10 or 5,000 participants, 1 or 12 visits, short or long labels -- must
show every title and label whole. The figures size themselves for the common cases; these
helpers are the safety net that :func:`pilottrial.report.figures.save.save_figure` applies after
the layout, and they change nothing in a figure whose text already fits:

* :func:`fit_xticks` rotates overlapping x tick labels by 45 degrees and, when even rotated
  they would touch, shows every k-th label only;
* :func:`fit_figure_labels` keeps the figure's title and x label clear of the panels (the
  tight layout leaves too little room for them in a tall or short figure);
* :func:`fit_texts` wraps a title, axis label or annotation that runs beyond the figure at word
  boundaries (and makes its font smaller when a single word is too wide), gives a legend that
  is too wide one column, and lays the figure out again;
* :func:`texts_outside` lists the text that still runs beyond the figure (the tests use it);
* :func:`wrap_to_width` wraps a text to a width in pixels, measured with the renderer;
* :func:`placeholder_figure` writes a figure that says why there is nothing to draw;
  :func:`draw_or_placeholder` draws a figure, or that figure when drawing fails for a reason
  other than the input (a model that cannot be fitted on this trial), so that the report is
  always written.
"""

from __future__ import annotations

import math
import sys
import traceback
from os import PathLike

import matplotlib.pyplot as plt
from matplotlib.legend import Legend
from matplotlib.text import Text

__all__ = ["texts_outside", "fit_xticks", "fit_texts", "fit_figure_labels", "wrap_to_width", "text_width",
           "placeholder_figure", "draw_or_placeholder"]

_TOLERANCE = 1.0  # pixels
_GAP = 0.25  # of the font size: the least space between two tick labels
_LABEL_OVERHANG = 1.1  # a y label may be this much taller than its axes before it is wrapped


def _renderer(fig):
    return fig.canvas.get_renderer()


def text_width(fig, text: str, fontsize: float, weight: str = "normal") -> float:
    """Width in pixels of ``text`` (its widest line) at ``fontsize`` points on ``fig``."""
    probe = Text(0, 0, text, fontsize=fontsize, fontweight=weight, figure=fig)
    return probe.get_window_extent(_renderer(fig)).width


def wrap_to_width(fig, text: str, width_px: float, fontsize: float, weight: str = "normal") -> str:
    """``text`` with line breaks at word boundaries so that no line is wider than ``width_px``.

    Lines are balanced (a text that needs two lines is cut near its middle, not after the last
    word that fits). Existing line breaks are kept; a single word wider than ``width_px`` stays on
    its own line.
    """
    out = []
    for paragraph in str(text).split("\n"):
        full = text_width(fig, paragraph, fontsize, weight)
        if full <= width_px:
            out.append(paragraph)
            continue
        words = paragraph.split(" ")
        fewest = len(_greedy(fig, words, width_px, fontsize, weight))
        for share in (1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0):
            lines = _greedy(fig, words, min(width_px, share * full / fewest), fontsize, weight)
            if len(lines) <= fewest:
                break
        out += lines
    return "\n".join(out)


def _greedy(fig, words: list[str], width_px: float, fontsize: float, weight: str) -> list[str]:
    """Words filled into lines no wider than ``width_px`` (a longer word gets a line of its own)."""
    lines, line = [], ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if line and text_width(fig, candidate, fontsize, weight) > width_px:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line]


def _tick_labels(axis) -> list[Text]:
    """The tick labels of an axis that are drawn: visible, not empty, at a tick inside the view."""
    low, high = sorted(axis.get_view_interval())
    labels = []
    for tick in axis.get_major_ticks():
        label = tick.label1
        position = tick.get_loc()
        if (label.get_visible() and tick.get_visible() and label.get_text().strip() and position is not None
                and low - 1e-9 <= position <= high + 1e-9):
            labels.append(label)
    return labels


def _drawn_texts(fig) -> list[Text]:
    """Every text of the figure a reader sees: titles, labels, annotations, legends, tick labels."""
    texts = []
    ticks = set()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            shown = _tick_labels(axis) if axis.get_visible() and ax.axison else []
            texts += shown
            ticks.update(id(t) for tick in axis.get_major_ticks() + axis.get_minor_ticks()
                         for t in (tick.label1, tick.label2))
    for t in fig.findobj(Text):
        if id(t) in ticks or not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        if not all(parent.get_visible() for parent in _parents(fig, t)):
            continue
        texts.append(t)
    return texts


def _parents(fig, text: Text) -> list:
    """The legends holding ``text`` (a legend title or entry is drawn only with its legend)."""
    legends = list(getattr(fig, "legends", [])) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [lg for lg in legends if text in lg.get_texts() or text is lg.get_title()]


def _outside(fig, text: Text, renderer) -> bool:
    box = text.get_window_extent(renderer)
    frame = fig.bbox
    return (box.x0 < frame.x0 - _TOLERANCE or box.x1 > frame.x1 + _TOLERANCE
            or box.y0 < frame.y0 - _TOLERANCE or box.y1 > frame.y1 + _TOLERANCE)


def texts_outside(fig) -> list[str]:
    """The texts of ``fig`` that run beyond the figure (by more than a pixel), as their strings.

    The figure is drawn first (without rendering), so the list describes what a saved figure
    shows. An empty list means no title, label, legend entry, annotation or tick label is clipped.
    """
    fig.draw_without_rendering()
    renderer = _renderer(fig)
    return [t.get_text() for t in _drawn_texts(fig) if _outside(fig, t, renderer)]


def fit_xticks(ax) -> bool:
    """Rotate (and if need be thin) the x tick labels of ``ax`` when neighbours overlap.

    Labels that fit side by side are left alone. Otherwise they are rotated by 45 degrees,
    anchored at their right end under the tick; when the rotated labels would still touch
    (ticks closer than the height of a rotated line), only every k-th label is shown, always
    including the first and the last. Returns True when the labels were changed.
    """
    fig = ax.get_figure()
    if not ax.get_visible() or not ax.axison:
        return False
    renderer = _renderer(fig)
    labels = _tick_labels(ax.xaxis)
    if len(labels) < 2:
        return False
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    gap = _GAP * labels[0].get_fontsize() * fig.dpi / 72.0
    if not any(a.x1 + gap > b.x0 for a, b in zip(boxes, boxes[1:])):
        return False
    ticks = list(ax.get_xticks())
    texts = [t.get_text() for t in ax.get_xticklabels()]
    centres = sorted(ax.transData.transform([(x, 0) for x in ticks])[:, 0])
    spacing = min((b - a for a, b in zip(centres, centres[1:])), default=0.0)
    lines = max(t.count("\n") + 1 for t in texts)
    line_px = 1.25 * labels[0].get_fontsize() * fig.dpi / 72.0 * lines
    step = 1 if spacing * math.sin(math.pi / 4) >= line_px else math.ceil(line_px / max(spacing * math.sin(math.pi / 4), 1e-9))
    if step > 1:
        n = len(texts)
        keep = list(range(0, n, step))
        if keep[-1] != n - 1:
            if n - 1 - keep[-1] < step and len(keep) > 1:
                keep[-1] = n - 1
            else:
                keep.append(n - 1)
        texts = [t if i in keep else "" for i, t in enumerate(texts)]
        ax.set_xticks(ticks, labels=texts)
    for label in ax.get_xticklabels():
        label.set_rotation(45)
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    return True


def _available(fig, text: Text, renderer) -> float:
    """The length a text may take where it stands: from its anchor to the edges of the figure,
    less a small margin (along the figure's height for vertical text)."""
    vertical = abs(math.sin(math.radians(text.get_rotation()))) > 0.7
    box = text.get_window_extent(renderer)
    margin = 0.04 * fig.dpi
    low, high = (fig.bbox.y0, fig.bbox.y1) if vertical else (fig.bbox.x0, fig.bbox.x1)
    start, end = (box.y0, box.y1) if vertical else (box.x0, box.x1)
    align = "center" if vertical else text.get_horizontalalignment()
    if align == "left":
        return high - start - margin
    if align == "right":
        return end - low - margin
    centre = (start + end) / 2.0
    return 2.0 * (min(centre - low, high - centre) - margin)


def _fit_titles(fig, renderer) -> bool:
    """Wrap every axes title wider than its axes (it would run over its neighbours) to the axes
    width, and every y label more than 10% taller than its axes (it would run into the text under
    the axes) to the axes height."""
    moved = False
    for ax in fig.axes:
        if not ax.get_visible() or ax.bbox.width <= 0:
            continue
        for title in (ax.title, ax._left_title, ax._right_title):
            text = title.get_text()
            if not text.strip() or title.get_window_extent(renderer).width <= ax.bbox.width + _TOLERANCE:
                continue
            wrapped = wrap_to_width(fig, text, ax.bbox.width, title.get_fontsize(), title.get_fontweight())
            if wrapped != text:
                title.set_text(wrapped)
                moved = True
        label, length = ax.yaxis.label, ax.bbox.height
        text = label.get_text()
        if (text.strip() and label.get_visible() and length > 0
                and label.get_window_extent(renderer).height > _LABEL_OVERHANG * length):
            wrapped = wrap_to_width(fig, text, length, label.get_fontsize(), label.get_fontweight())
            if wrapped != text:
                label.set_text(wrapped)
                moved = True
    return moved


def fit_texts(fig, layout=None, passes: int = 4, *, drawn: bool = False) -> bool:
    """Wrap or shrink the texts that run beyond the figure, then lay it out again.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    layout : callable, optional
        Lays the figure out again after a change (e.g. ``fig.tight_layout``).
    passes : int
        At most this many rounds of wrapping and layout.
    drawn : bool, default False
        The figure has been measured since its last change (a drawing, or the tight bounding
        boxes of every visible axes, as :func:`fit_figure_labels` takes them): the first round
        measures that state instead of drawing again.

    Returns
    -------
    bool
        True when a text or legend was changed.

    Notes
    -----
    An axes title wider than its axes is wrapped to the axes width (it would run over the
    neighbouring panel), a y label much taller than its axes to the axes height. A text is wrapped at word boundaries to the width of the figure; a text
    that still does not fit (one long word, or a position near the edge) gets a smaller font,
    down to 5 points. A
    legend wider than the figure is given one column. Tick labels are left to :func:`fit_xticks`.
    """
    changed = False
    for _ in range(passes):
        if not drawn:
            fig.draw_without_rendering()
        drawn = False
        renderer = _renderer(fig)
        if _fit_titles(fig, renderer):  # wrapped: lay out, then look again
            changed = True
            if layout is not None:
                layout()
            continue
        moved = False
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        for legend in legends:
            if isinstance(legend, Legend) and legend.get_visible() and legend._ncols > 1:
                box = legend.get_window_extent(renderer)
                if box.width > fig.bbox.width - 2 * _TOLERANCE:
                    legend.set_ncols(1)
                    moved = True
        ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
                 for tick in axis.get_major_ticks() for t in (tick.label1, tick.label2)}
        for text in _drawn_texts(fig):
            if id(text) in ticks or not _outside(fig, text, renderer) or _parents(fig, text):
                continue
            size = text.get_fontsize()
            wrapped = wrap_to_width(fig, text.get_text(), _available(fig, text, renderer), size,
                                    text.get_fontweight())
            if wrapped != text.get_text():
                text.set_text(wrapped)
            elif size > 5.0:
                text.set_fontsize(max(5.0, size * 0.85))
            else:
                continue
            moved = True
        if not moved:
            break
        changed = True
        if layout is not None:
            layout()
    return changed


def fit_figure_labels(fig, options: dict) -> bool:
    """Move the panels clear of the figure title (``suptitle``) and x label (``supxlabel``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure laid out by ``fig.tight_layout(**options)``.
    options : dict
        The tight-layout options; its ``rect`` is narrowed (in place) when a panel reaches into
        the title or the x label, and the figure is laid out again.

    Returns
    -------
    bool
        True when the layout was changed.

    Notes
    -----
    The panels are measured by their tight bounding boxes (``Axes.get_tightbbox``, which places
    the ticks, tick labels, axis labels and titles as drawing does), without drawing the figure;
    a figure without a title or x label is not measured at all.
    """
    title, label = (getattr(fig, name, None) for name in ("_suptitle", "_supxlabel"))
    title, label = (t if t is not None and t.get_visible() and t.get_text().strip() else None
                    for t in (title, label))
    if title is None and label is None:
        return False
    renderer = _renderer(fig)
    height = fig.bbox.height
    pad = 0.06 * fig.dpi
    left, bottom, right, top = options.get("rect", (0, 0, 1, 1))
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return False
    changed = False
    if title is not None:
        limit = title.get_window_extent(renderer).y0 - pad
        if max(b.y1 for b in boxes) > limit + _TOLERANCE:
            top = min(top, limit / height)
            changed = True
    if label is not None:
        limit = label.get_window_extent(renderer).y1 + pad
        if min(b.y0 for b in boxes) < limit - _TOLERANCE:
            bottom = max(bottom, limit / height)
            changed = True
    if changed:
        options["rect"] = (left, bottom, right, top)
        fig.tight_layout(**options)
    return changed


def placeholder_figure(path: str | PathLike, title: str, message: str, *, svg: bool = True) -> None:
    """Write a small figure that says why there is nothing to draw (PNG, and the SVG beside it).

    Parameters
    ----------
    path : str or path-like
        PNG path.
    title : str
        What the figure would have shown.
    message : str
        Why it is empty (e.g. "no post-baseline score", "not estimable: ...").
    svg : bool, default True
        Also write the SVG.
    """
    from pilottrial.report.figures.save import save_figure
    from pilottrial.report.figures.style import DPI, GREY, theme

    with theme("white", "report"):
        fig = plt.figure(figsize=(6.0, 1.8), dpi=DPI)
        fig.text(0.5, 0.72, wrap_to_width(fig, title, 5.6 * DPI, 10, "bold"), ha="center", va="center",
                 fontsize=10, fontweight="bold")
        fig.text(0.5, 0.32, wrap_to_width(fig, message, 5.6 * DPI, 9), ha="center", va="center", fontsize=9,
                 color=GREY)
        save_figure(fig, path, svg=svg, tight_layout=False)


def draw_or_placeholder(draw, path: str | PathLike, title: str, *, svg: bool = True, log=None) -> bool:
    """Call ``draw()``; when it fails, write :func:`placeholder_figure` at ``path`` instead.

    Parameters
    ----------
    draw : callable
        Draws and writes the figure at ``path`` (and the SVG beside it when ``svg``).
    path : str or path-like
        The PNG the figure is written to.
    title : str
        What the figure shows (the placeholder's title).
    svg : bool, default True
        The figure has an SVG beside the PNG (the placeholder writes one too).
    log : file-like, optional
        Where the traceback goes (default ``sys.stderr``: a rule's log).

    Returns
    -------
    bool
        True when the figure was drawn, False when the placeholder was written.

    Notes
    -----
    A :class:`pilottrial.errors.InputError` is raised again: it is a fault of the input that the
    run must stop on (with one line). Any other error -- a model that cannot be fitted on this
    trial, a table whose rows are not estimable -- costs the figure only: the placeholder says what
    went wrong and the traceback goes to the log.
    """
    from pilottrial.errors import InputError

    open_before = set(plt.get_fignums())
    try:
        draw()
        return True
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 -- a figure that cannot be drawn must not cost the report
        traceback.print_exc(file=log or sys.stderr)
        for number in set(plt.get_fignums()) - open_before:  # the half-drawn figure
            plt.close(number)
        reason = " ".join(str(exc).split())[:240] or type(exc).__name__
        placeholder_figure(path, title, f"This figure could not be drawn for this trial: {reason}", svg=svg)
        return False
