"""Waterfall plot: percent change from baseline at one visit, one bar per participant (PNG and SVG)."""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patches
from matplotlib.lines import Line2D

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import arm_order, outcome_rows, outcome_spec, responder_improvement
from pilottrial.report.figures.labels import at_visit, better_suffix, number
from pilottrial.report.figures.layout import placeholder_figure
from pilottrial.report.figures.limits import WATERFALL_EDGES
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, arm_colours, theme
from pilottrial.report.format import arm_label

__all__ = ["plot_waterfall"]

_CAP = 200.0  # bars beyond +-200% are cut there and carry their value


def _last_key_visit(rows: pd.DataFrame, trial: Trial) -> str:
    """The last key visit with a score, else the last post-baseline visit with one."""
    observed = set(rows.loc[rows["score"].notna(), "visit"])
    for candidates in (trial.key_visits, [v for v in trial.visit_order if v != trial.baseline]):
        measured = [v for v in candidates if v in observed]
        if measured:
            return measured[-1]
    raise ValueError("no post-baseline visit with a score")


def plot_waterfall(analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike,
                   visit: str | None = None) -> pd.DataFrame:
    """Waterfall plot of the percent change from baseline at one visit, one bar per participant.

    Bars are sorted from the largest increase to the largest decrease (ties by participant
    code) and coloured by arm; a dashed line marks the responder threshold,
    :math:`-100\\,r\\%` when lower is better and :math:`+100\\,r\\%` when higher is better
    (``r`` = ``analysis.responder_improvement``).

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table.
    outcome : str
        Outcome name.
    config : dict
        Trial config.
    path : str or path-like
        PNG path; the SVG is written beside it.
    visit : str, optional
        Default: the last key visit with a score (the last post-baseline visit without key
        visits).

    Returns
    -------
    pandas.DataFrame
        ``participant, arm, baseline, score, pct_change`` in the order drawn.

    Notes
    -----
    :math:`\\%\\text{change} = 100\\,(\\text{score} - \\text{baseline}) / \\text{baseline}`;
    participants with baseline 0 (undefined) or no score at the visit are left out, and the
    subtitle says how many. Bars beyond plus or minus 200% are cut there and labelled with
    their value (the returned table keeps the value; with more than 40 such bars, or more than
    :data:`~pilottrial.report.figures.limits.WATERFALL_EDGES` bars in all, the subtitle counts
    them instead). Above that many bars, the bars touch and have no edges.
    """
    trial = Trial.from_config(config)
    rows = outcome_rows(analysis, outcome)
    columns = ["participant", "arm", "baseline", "score", "pct_change"]
    if visit is None:
        try:
            visit = _last_key_visit(rows, trial)
        except ValueError as exc:
            placeholder_figure(path, f"{outcome}: percent change from baseline", f"Nothing to draw: {exc}.")
            return pd.DataFrame(columns=columns)
    visit = str(visit)
    arms = arm_order(trial, analysis)
    colours = arm_colours(arms)
    spec = outcome_spec(trial, outcome)
    better = spec.better if spec is not None else "lower"
    improvement = responder_improvement(trial)
    at = rows.loc[rows["visit"] == visit, ["participant", "arm", "baseline", "score"]]
    n_total = int(rows["participant"].nunique())
    usable = at.loc[at["score"].notna() & at["baseline"].notna() & (at["baseline"] != 0)].copy()
    n_zero = int((at["score"].notna() & (at["baseline"] == 0)).sum())
    usable["pct_change"] = (usable["score"] - usable["baseline"]) / usable["baseline"] * 100.0
    usable = usable.sort_values(["pct_change", "participant"], ascending=[False, True], kind="mergesort")
    usable = usable.reset_index(drop=True)
    threshold = -100.0 * improvement if better != "higher" else 100.0 * improvement

    with theme("whitegrid", "report"):
        fig, ax = plt.subplots(figsize=(7.5, 4.4 + 0.25 * len(arms) if trial.is_multi_arm else 4.4), dpi=DPI)
        x = np.arange(len(usable))
        values = usable["pct_change"].to_numpy(dtype=float)
        shown = np.clip(values, -_CAP, _CAP)
        many = len(usable) > WATERFALL_EDGES
        ax.bar(x, shown, width=1.0 if many else 0.8, color=[colours.get(a, "0.5") for a in usable["arm"]],
               edgecolor="none" if many else "white", linewidth=0.0 if many else 0.4, zorder=2)
        clipped = np.flatnonzero(shown != values)
        labelled = not many and clipped.size <= 40
        for i in clipped if labelled else []:  # bars cut at the cap carry their value
            ax.text(x[i], shown[i], f"{number(values[i], 0)}%", rotation=90, fontsize=7,
                    ha="center", va="top" if values[i] > 0 else "bottom", color="white", zorder=4)
        ax.axhline(0.0, color="0.25", linewidth=1.0, zorder=1)
        ax.axhline(threshold, color=GREY, linestyle="--", linewidth=1.2, zorder=3)
        direction = "improvement" if better in ("lower", "higher") else "change"
        handles = [patches.Patch(color=colours[a], label=f"{arm_label(a)} (n = {int((usable['arm'] == a).sum())})")
                   for a in arms]
        handles.append(Line2D([], [], color=GREY, linestyle="--",
                              label=f"response: \u2265{100 * improvement:g}% {direction} ({number(threshold, 0)}%)"))
        if trial.is_multi_arm:  # k arms and the threshold: below the axes, in two columns
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        else:
            ax.legend(handles=handles, loc="best", frameon=True)
        ax.set_xticks([])
        ax.set_xlim(-0.8 if not many else -0.5, max(len(usable), 1) - (0.2 if not many else 0.5))
        ax.set_xlabel("Participants, sorted by percent change")
        ax.set_ylabel(f"Change from baseline in {outcome} (%)")
        sub = f"{len(usable)} of {n_total} participants with a score at {at_visit(visit)}"
        if n_zero:
            sub += f"; {n_zero} with baseline 0 left out"
        if clipped.size and labelled:
            sub += f"; bars cut at \u00b1{_CAP:g}% show their value"
        elif clipped.size:
            sub += f"; {clipped.size} bars cut at \u00b1{_CAP:g}%"
        ax.set_title(f"{outcome}: percent change from baseline at {at_visit(visit)}{better_suffix(better)}\n{sub}",
                     fontsize=9.5)
        save_figure(fig, path)
    return usable[["participant", "arm", "baseline", "score", "pct_change"]]
