"""The power-curve figure of the definitive-trial plan (PNG).

Written by :func:`pilottrial.report.figures.save.save_figure`: the same tables give the same bytes.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pilottrial.planning import METHODS, PowerPlan, analytic_power
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, OKABE_ITO, theme

__all__ = ["plot_power_curve"]

_COLOURS = {"simulation": OKABE_ITO[0], "analytic_mmrm": OKABE_ITO[1], "analytic_t": OKABE_ITO[2]}
_STYLES = {"simulation": "-", "analytic_mmrm": "--", "analytic_t": ":"}


def plot_power_curve(curve: pd.DataFrame, sample_size: pd.DataFrame, path: str | PathLike,
                     title: str = "", plan: PowerPlan | None = None) -> Path:
    """Power against n per arm, one panel per target effect.

    Simulated power as points with their 95% Monte Carlo intervals, joined by a line; the two
    analytic approximations as dashed and dotted lines; grey lines at the target powers; the
    smallest simulated n per arm reaching each target marked on the axis.

    Parameters
    ----------
    curve : ``power_curve.csv`` (:data:`pilottrial.planning.CURVE_COLUMNS`).
    sample_size : ``sample_size.csv`` (:data:`pilottrial.planning.SAMPLE_SIZE_COLUMNS`).
    path : PNG to write.
    plan : when given, the analytic curves are drawn at every whole n of the grid's range
        rather than at the grid points only.

    Returns
    -------
    The path written.
    """
    sources = list(dict.fromkeys(curve["effect_source"]))
    targets = sorted(set(sample_size["target_power"])) if len(sample_size) else []
    width = 4.2 * len(sources) + 0.8
    with theme("plain", "panel", rc={"legend.fontsize": 8}):
        fig, axes = plt.subplots(1, len(sources), figsize=(max(width, 9.0), 4.6), dpi=DPI, sharey=True,
                                 squeeze=False)
        for ax, source in zip(axes[0], sources):
            sub = curve[curve["effect_source"] == source]
            effect = float(sub["effect"].iloc[0])
            for method, label in METHODS.items():
                rows = sub[sub["method"] == method].sort_values("n_per_arm")
                if rows.empty:
                    continue
                n = rows["n_per_arm"].to_numpy(dtype=float)
                power = rows["power"].to_numpy(dtype=float)
                if plan is not None and method != "simulation":
                    dense = np.arange(int(n.min()), int(n.max()) + 1)
                    ax.plot(dense, analytic_power(plan, dense, effect, method), _STYLES[method],
                            color=_COLOURS[method], lw=1.6, label=label)
                else:
                    ax.plot(n, power, _STYLES[method], color=_COLOURS[method], lw=1.6, label=label)
                if method == "simulation":
                    err = np.vstack([power - rows["mc_lower"].to_numpy(dtype=float),
                                     rows["mc_upper"].to_numpy(dtype=float) - power])
                    ax.errorbar(n, power, yerr=err, fmt="o", ms=3.5, color=_COLOURS[method], capsize=2.5, lw=1)
            for target in targets:
                ax.axhline(target, color="0.55", lw=0.8, zorder=0)
                sel = sample_size[(sample_size["effect_source"] == source) & (sample_size["method"] == "simulation")
                                  & (sample_size["target_power"] == target)]
                if len(sel) and pd.notna(sel["n_per_arm"].iloc[0]):
                    n_hat = float(sel["n_per_arm"].iloc[0])
                    ax.plot([n_hat, n_hat], [0, target], color=_COLOURS["simulation"], lw=0.8, alpha=0.6)
                    ax.annotate(f"{int(n_hat)}", (n_hat, target), textcoords="offset points", xytext=(3, -11),
                                fontsize=8, color=_COLOURS["simulation"])
            ax.set_title(f"{source}: difference {effect:.2f}".replace("-", "\u2212"))
            ax.set_xlabel("Participants per arm")
            ax.set_ylim(0, 1.02)
            ax.grid(True, color="0.9", lw=0.6)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        axes[0][0].set_ylabel("Power")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
        if title:
            fig.suptitle(title)
        return save_figure(fig, path, svg=False, tight_layout={"rect": (0, 0.07, 1, 1)})
