"""The figure of a two-period crossover trial: within-period change by sequence (PNG)."""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import outcome_spec
from pilottrial.report.figures.labels import better_suffix
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, arm_colours, theme

__all__ = ["plot_crossover"]


def plot_crossover(table: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> None:
    """Each participant's change from the period baseline under each treatment.

    One panel per sequence (in the order of ``crossover.sequences``), the periods in order on
    the x axis labelled with the treatment received; a grey line joins a participant's two
    periods, the points are in the treatment's colour and a short thick bar marks the mean.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`pilottrial.models.crossover.crossover_table` (``participant, sequence, period,
        treatment, change``, one row per participant x period; an ``outcome`` column when it
        holds several outcomes).
    outcome : str
        Outcome name.
    config : dict
        Trial config (arms, ``crossover.sequences``, outcomes).
    path : str or path-like
        Output PNG path; parent directories are created.
    """
    trial = Trial.from_config(config)
    df = table[table["outcome"] == outcome].dropna(subset=["change"]) if "outcome" in table else \
        table.dropna(subset=["change"])
    colours = arm_colours(trial.arms)
    sequences = list(trial.section("crossover").get("sequences", {}))
    sequences = sequences or sorted(df["sequence"].unique())
    spec = outcome_spec(trial, outcome)
    with theme("whitegrid", "panel"):
        fig, axes = plt.subplots(1, len(sequences), figsize=(9.0, 4.5), dpi=DPI, sharey=True, squeeze=False)
        for ax, sequence in zip(axes[0], sequences):
            seq = df[df["sequence"] == sequence]
            periods = sorted(seq["period"].unique())
            for _, rows in seq.sort_values("period").groupby("participant", sort=True):
                ax.plot(rows["period"], rows["change"], color="0.6", linewidth=0.8, alpha=0.7, zorder=1)
            for period in periods:
                rows = seq[seq["period"] == period]
                if rows.empty:
                    continue
                arm = rows["treatment"].iloc[0]
                ax.scatter([period] * len(rows), rows["change"], color=colours.get(arm, "0.3"), s=14, zorder=2)
                ax.plot([period - 0.15, period + 0.15], [rows["change"].mean()] * 2, color=colours.get(arm, "0.3"),
                        linewidth=3, zorder=3)
            arms_in_order = [seq[seq["period"] == p]["treatment"].iloc[0] for p in periods if (seq["period"] == p).any()]
            ax.set_xticks(periods)
            ax.set_xticklabels([f"period {p}\n{a}" for p, a in zip(periods, arms_in_order)])
            ax.set_xlim(min(periods) - 0.5, max(periods) + 0.5)
            ax.axhline(0.0, color=GREY, linestyle="--", linewidth=1.0, zorder=0)
            ax.set_title(f"sequence {sequence} (n = {seq['participant'].nunique()})")
        better = spec.better if spec is not None else None
        axes[0][0].set_ylabel(f"Change from period baseline in {outcome}{better_suffix(better)}")
        fig.suptitle(f"{outcome}: change within each period by sequence (bars: means)")
        save_figure(fig, path, svg=False)
