r"""Figures of one outcome over the visits: mean change, mean score, individual trajectories.

Each function takes the tidy long ``analysis`` table (``participant, arm, visit, outcome,
baseline, score, change``; one row per participant x visit x outcome) and the trial config.

* :func:`plot_mean_change` -- mean change from baseline (mean score in raw-score trials) with its
  t interval, by arm (PNG);
* :func:`plot_mean_score` -- mean score with its t interval by arm at every visit, baseline
  included, with the numbers observed under the axis (PNG and SVG);
* :func:`plot_trajectories` -- each participant's scores, one panel per arm, arm means on top (PNG).

The interval of a mean is :func:`mean_ci`:
:math:`\bar y \pm t_{1-\alpha/2,\,n-1}\, s/\sqrt n`.
"""

from __future__ import annotations

import math
from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import special

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import arm_order, outcome_rows, outcome_spec, visit_order
from pilottrial.report.figures.labels import better_suffix, legend_label, level_pct, shortened
from pilottrial.report.figures.layout import fit_xticks
from pilottrial.report.figures.limits import TRAJECTORY_LINES, TRAJECTORY_SEED
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, arm_colours, theme
from pilottrial.report.format import arm_label

__all__ = ["plot_mean_change", "plot_mean_score", "plot_trajectories", "mean_ci"]


def _arm_legend(ax, arms: list[str], multi: bool, below: bool = True) -> None:
    """The arm legend: inside the axes in a two-arm trial; with three or more arms outside them
    (a legend of many, long arm names inside the axes would cover the means): below the axes in
    columns, or (``below=False``) to their right."""
    if not multi:
        ax.legend(title="Arm", loc="best", frameon=True)
        return
    if not below:
        ax.legend(title="Arm", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        return
    longest = max(len(arm_label(a)) for a in arms)
    ncol = min(len(arms), 4 if longest <= 14 else 2)
    ax.legend(title="Arm", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False)


def mean_ci(values: np.ndarray, level: float) -> tuple[float, float, float, int]:
    """Mean and two-sided t-interval ``mean ± t_{(1+level)/2, n-1} * SD / sqrt(n)``.

    Returns ``(mean, lower, upper, n)``; bounds are NaN when ``n < 2``.
    Written without numpy reductions on empty/singleton arrays so that no
    RuntimeWarning is raised.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.sum() / n)
    if n < 2:
        return mean, math.nan, math.nan, n
    sd = math.sqrt(float(((x - mean) ** 2).sum()) / (n - 1))
    half = float(special.stdtrit(n - 1, 0.5 + level / 2.0)) * sd / math.sqrt(n)  # scipy.stats.t.ppf
    return mean, mean - half, mean + half, n


def _line_sample(people: list[str], arm: str) -> list[str]:
    """The participants whose trajectories are drawn: all, or a seeded random sample of
    :data:`~pilottrial.report.figures.limits.TRAJECTORY_LINES` (the same on every run)."""
    if len(people) <= TRAJECTORY_LINES:
        return list(people)
    seed = np.random.SeedSequence([TRAJECTORY_SEED, *str(arm).encode("utf-8")])
    chosen = np.random.default_rng(seed).choice(len(people), size=TRAJECTORY_LINES, replace=False)
    return [people[i] for i in sorted(chosen)]


def _better(trial: Trial, outcome: str) -> str | None:
    spec = outcome_spec(trial, outcome)
    return spec.better if spec is not None else None


def _observed(analysis: pd.DataFrame, outcome: str, visits: list[str]) -> pd.DataFrame:
    """Rows of one outcome with a finite score at one of ``visits``."""
    df = outcome_rows(analysis, outcome)
    df = df.loc[df["score"].notna() & np.isfinite(df["score"].to_numpy(dtype=float))]
    return df.loc[df["visit"].isin(visits)]


def plot_mean_change(analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> None:
    """Plot mean change from baseline with t-based confidence intervals by arm.

    For each arm and post-baseline visit the mean of ``change`` is drawn
    with the interval ``mean ± t_{0.975, n-1} · SD / √n`` (the level follows
    ``config["analysis"]["alpha"]``, 0.05 by default, i.e. a 95% interval).
    Baseline is drawn at 0. Visits follow ``config["visits"]["order"]``; the
    arms are dodged slightly along the x axis. Rows with a missing ``score``
    are dropped. In a raw-score trial (``analysis.response: raw``) the mean
    score is drawn instead.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy long table with columns ``participant, arm, visit, outcome,
        baseline, score, change``.
    outcome : str
        Outcome name as in ``config["outcomes"][i]["name"]``.
    config : dict
        Trial configuration (``arms``, ``visits``, ``outcomes``, ``analysis``).
    path : str or path-like
        Output PNG path; parent directories are created.

    Raises
    ------
    ValueError
        If ``outcome`` has no rows in ``analysis``.
    """
    trial = Trial.from_config(config)
    order = visit_order(trial, analysis)
    raw = trial.response == "raw"
    value = "score" if raw else "change"  # raw-score analyses show mean scores
    if raw:
        baseline = None
    else:
        baseline = trial.baseline if trial.baseline is not None else (order[0] if order else None)
    df = _observed(analysis, outcome, order)
    arms = arm_order(trial, analysis)
    colours = arm_colours(arms)
    better = _better(trial, outcome)
    level = 1.0 - trial.alpha

    xpos = {v: i for i, v in enumerate(order)}
    n_arms = max(len(arms), 1)
    width = 0.08
    offsets = {arm: (i - (n_arms - 1) / 2.0) * width for i, arm in enumerate(arms)}

    with theme("whitegrid", "panel"):
        fig, ax = plt.subplots(figsize=(7.0, 5.2 if trial.is_multi_arm else 4.5), dpi=DPI)
        if not raw:
            ax.axhline(0.0, color=GREY, linestyle="--", linewidth=1.0, zorder=1)
        for arm in arms:
            arm_df = df.loc[df["arm"] == arm]
            n_arm = int(arm_df["participant"].nunique())
            xs, means, lows, highs = [], [], [], []
            for visit in order:
                if visit == baseline:
                    xs.append(xpos[visit])
                    means.append(0.0)
                    lows.append(math.nan)
                    highs.append(math.nan)
                    continue
                vals = arm_df.loc[arm_df["visit"] == visit, value].to_numpy(dtype=float)
                m, lo, hi, n = mean_ci(vals, level)
                if n == 0:
                    continue
                xs.append(xpos[visit])
                means.append(m)
                lows.append(lo)
                highs.append(hi)
            if not xs:
                continue
            x = np.asarray(xs, dtype=float) + offsets[arm]
            mean = np.asarray(means, dtype=float)
            lo = np.asarray(lows, dtype=float)
            hi = np.asarray(highs, dtype=float)
            has_ci = np.isfinite(lo) & np.isfinite(hi)
            colour = colours[arm]
            ax.plot(x, mean, color=colour, marker="o", markersize=6, linewidth=2.0,
                    label=legend_label(f"{arm_label(arm)} (n = {n_arm})"), zorder=3)
            if has_ci.any():
                ax.errorbar(x[has_ci], mean[has_ci],
                            yerr=np.vstack([mean[has_ci] - lo[has_ci], hi[has_ci] - mean[has_ci]]),
                            fmt="none", ecolor=colour, elinewidth=1.5, capsize=4, zorder=2)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order)
        ax.set_xlim(-0.4, len(order) - 0.6)
        ax.set_xlabel("Visit")
        if raw:
            ax.set_ylabel(f"{outcome}{better_suffix(better)}")
            ax.set_title(f"{outcome}: mean by arm ({level_pct(trial.alpha)} CI)")
        else:
            ax.set_ylabel(f"Change from baseline in {outcome}{better_suffix(better)}")
            ax.set_title(f"{outcome}: mean change from baseline ({level_pct(trial.alpha)} CI)")
        _arm_legend(ax, arms, trial.is_multi_arm)
        save_figure(fig, path, svg=False)


def plot_mean_score(analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> pd.DataFrame:
    """Plot the mean score with its t interval by arm at every visit, baseline included.

    Arms are dodged slightly along the x axis; the number of participants with a score at
    each visit is printed under the axis in the arm's colour.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table.
    outcome : str
        Outcome name.
    config : dict
        Trial config (arms, visits, outcomes, ``analysis.alpha``).
    path : str or path-like
        PNG path; the SVG is written beside it.

    Returns
    -------
    pandas.DataFrame
        ``arm, visit, n, mean, ci_lower, ci_upper`` as drawn.

    Notes
    -----
    The interval is :math:`\\bar y \\pm t_{1-\\alpha/2,\\,n-1}\\, s/\\sqrt n` over the
    participants observed at the visit (no interval when n < 2). The change from baseline is
    in :func:`plot_mean_change`.
    """
    trial = Trial.from_config(config)
    rows = outcome_rows(analysis, outcome)
    rows = rows.loc[rows["score"].notna()]
    order = [v for v in visit_order(trial, analysis) if v in set(rows["visit"])]  # visits with data
    rows = rows.loc[rows["visit"].isin(order)]
    arms = arm_order(trial, analysis)
    colours = arm_colours(arms)
    alpha = trial.alpha
    xpos = {v: i for i, v in enumerate(order)}
    width = 0.09
    offsets = {a: (i - (len(arms) - 1) / 2.0) * width for i, a in enumerate(arms)}
    drawn = []
    for arm in arms:
        for visit in order:
            vals = rows.loc[(rows["arm"] == arm) & (rows["visit"] == visit), "score"].to_numpy(dtype=float)
            m, lo, hi, n = mean_ci(vals, 1.0 - alpha)
            drawn.append({"arm": arm, "visit": visit, "n": n, "mean": m, "ci_lower": lo, "ci_upper": hi})
    table = pd.DataFrame(drawn, columns=["arm", "visit", "n", "mean", "ci_lower", "ci_upper"])

    with theme("whitegrid", "report"):
        fig, ax = plt.subplots(figsize=(8.4 if trial.is_multi_arm else 7.0, 4.6), dpi=DPI)
        for arm in arms:
            part = table.loc[(table["arm"] == arm) & (table["n"] > 0)]
            if part.empty:
                continue
            x = part["visit"].map(xpos).to_numpy(dtype=float) + offsets[arm]
            mean = part["mean"].to_numpy(dtype=float)
            lo, hi = part["ci_lower"].to_numpy(dtype=float), part["ci_upper"].to_numpy(dtype=float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            n_arm = int(rows.loc[rows["arm"] == arm, "participant"].nunique())
            ax.plot(x, mean, color=colours[arm], marker="o", markersize=6, linewidth=2.0, zorder=3,
                    label=legend_label(f"{arm_label(arm)} (n = {n_arm})"))
            if ok.any():
                ax.errorbar(x[ok], mean[ok], yerr=np.vstack([mean[ok] - lo[ok], hi[ok] - mean[ok]]), fmt="none",
                            ecolor=colours[arm], elinewidth=1.5, capsize=4, zorder=2)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order)
        ax.set_xlim(-0.45, len(order) - 0.55)
        ax.set_ylabel(f"{outcome} score{better_suffix(_better(trial, outcome))}")
        ax.set_title(f"{outcome}: mean score by arm ({level_pct(alpha)} CI)")
        top = _below_tick_labels(fig, ax)
        for i, arm in enumerate(arms):
            ax.annotate(f"n {shortened(arm_label(arm))}", xy=(0, 0), xycoords="axes fraction", xytext=(-6, -top - 11 * i),
                        textcoords="offset points", ha="right", va="top", fontsize=7.5, color=colours[arm])
            for visit in order:
                n = int(table.loc[(table["arm"] == arm) & (table["visit"] == visit), "n"].iloc[0])
                ax.annotate(str(n), xy=(xpos[visit], 0), xycoords=("data", "axes fraction"),
                            xytext=(0, -top - 11 * i), textcoords="offset points", ha="center", va="top",
                            fontsize=7.5, color=colours[arm])
        _arm_legend(ax, arms, trial.is_multi_arm, below=False)  # below the axes: the numbers observed
        save_figure(fig, path)
    return table


def _below_tick_labels(fig, ax) -> float:
    """Points below the x axis where the rows of numbers start: 20, or lower when the tick labels
    had to be rotated (:func:`~pilottrial.report.figures.layout.fit_xticks`) and reach further down."""
    sp = fig.subplotpars
    before = {"left": sp.left, "right": sp.right, "bottom": sp.bottom, "top": sp.top, "wspace": sp.wspace,
              "hspace": sp.hspace}
    fig.tight_layout()
    if not fit_xticks(ax):
        fig.subplots_adjust(**before)  # as if never laid out: the saved figure is laid out once
        return 20.0
    fig.tight_layout()
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    depth = (ax.bbox.y0 - min(b.y0 for b in boxes)) * 72.0 / fig.dpi if boxes else 0.0
    return max(20.0, depth + 6.0)


def plot_trajectories(analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> None:
    """Plot individual participant score trajectories, one panel per arm.

    Each participant's observed scores are joined across the visits in
    ``config["visits"]["order"]`` as thin translucent lines in the arm's
    colour; the arm mean at each visit is overlaid as a thick line. Panels
    share the y axis, limited to the outcome's ``range`` when configured.
    Rows with a missing ``score`` are dropped. An arm of more than
    :data:`~pilottrial.report.figures.limits.TRAJECTORY_LINES` participants
    shows the lines of a seeded random sample of that many (the panel title
    says so); its mean uses every participant.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy long table with columns ``participant, arm, visit, outcome,
        baseline, score, change``.
    outcome : str
        Outcome name as in ``config["outcomes"][i]["name"]``.
    config : dict
        Trial configuration (``arms``, ``visits``, ``outcomes``).
    path : str or path-like
        Output PNG path; parent directories are created.

    Raises
    ------
    ValueError
        If ``outcome`` has no rows in ``analysis``.
    """
    trial = Trial.from_config(config)
    order = visit_order(trial, analysis)
    df = _observed(analysis, outcome, order)
    arms = arm_order(trial, analysis)
    colours = arm_colours(arms)
    spec = outcome_spec(trial, outcome)
    xpos = {v: i for i, v in enumerate(order)}

    with theme("whitegrid", "panel"):
        # three or more arms: each panel keeps the width of a two-arm panel
        width = 0.6 + 3.0 * len(arms) if trial.is_multi_arm else 9.0
        fig, axes = plt.subplots(1, len(arms), figsize=(width, 4.5), dpi=DPI, sharey=True, squeeze=False)
        for ax, arm in zip(axes[0], arms):
            colour = colours[arm]
            arm_df = df.loc[df["arm"] == arm].copy()
            arm_df["_x"] = arm_df["visit"].map(xpos)
            arm_df = arm_df.sort_values(["participant", "_x"], kind="mergesort")
            people = sorted(arm_df["participant"].unique())
            shown = _line_sample(people, arm)
            sampled = len(shown) < len(people)
            for pid in shown:
                p = arm_df.loc[arm_df["participant"] == pid]
                ax.plot(p["_x"].to_numpy(dtype=float), p["score"].to_numpy(dtype=float),
                        color=colour, alpha=0.2 if sampled else 0.35, linewidth=0.6 if sampled else 0.8,
                        marker="o", markersize=1.5 if sampled else 2, zorder=2)
            mx, my = [], []
            for visit in order:
                vals = arm_df.loc[arm_df["visit"] == visit, "score"].to_numpy(dtype=float)
                if vals.size:
                    mx.append(xpos[visit])
                    my.append(float(vals.sum() / vals.size))
            if mx:
                ax.plot(mx, my, color=colour, linewidth=3.0, marker="o", markersize=7,
                        markeredgecolor="white", label="Arm mean", zorder=4)
                ax.legend(loc="best", frameon=True)
            title = f"{arm_label(arm)} (n = {len(people)})"
            if trial.is_multi_arm:  # narrower panels side by side: long arm names on two lines
                title = legend_label(title, 26)
            if sampled:
                title += f"\nlines: random sample of {len(shown)}"
            ax.set_title(title, color=colour, fontweight="bold")
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels(order)
            ax.set_xlim(-0.3, len(order) - 0.7)
            ax.set_xlabel("Visit")
        rng = spec.range if spec is not None else None
        if rng is not None and len(rng) == 2 and all(r is not None for r in rng):
            lo, hi = float(rng[0]), float(rng[1])
            pad = 0.02 * (hi - lo)
            axes[0][0].set_ylim(lo - pad, hi + pad)
        axes[0][0].set_ylabel(f"{outcome} score{better_suffix(spec.better if spec is not None else None)}")
        fig.suptitle(f"{outcome}: individual trajectories by arm")
        save_figure(fig, path, svg=False)
