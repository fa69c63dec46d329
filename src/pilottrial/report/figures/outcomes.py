"""Deterministic figures for a randomized pilot trial.

Both public functions take the tidy long ``analysis`` table (columns
``participant, arm, visit, outcome, baseline, score, change``; one row per
participant x visit x outcome) and the trial config as a plain dict, and
write one PNG file.

The PNG bytes are reproducible: the Agg backend is forced, figure size and
dpi are fixed, the ``Software`` metadata entry (which would embed the
matplotlib version) is dropped, nothing is random, and styling is applied
only through context managers so no global matplotlib state leaks between
calls.
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy import stats  # noqa: E402

__all__ = ["plot_mean_change", "plot_trajectories", "plot_crossover", "arm_colours", "mean_ci", "OKABE_ITO"]

#: Okabe-Ito colour-blind-safe palette (black omitted).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
)

_FIGSIZE_MEAN = (7.0, 4.5)
_FIGSIZE_TRAJ = (9.0, 4.5)
_DPI = 150
_STYLE = "whitegrid"
_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _arm_order(analysis: pd.DataFrame, config: dict) -> list[str]:
    """Reference arm, treatment arm, then any other arms in sorted order."""
    arms_cfg = config.get("arms", {}) or {}
    ordered = [arms_cfg[k] for k in ("reference", "treatment") if arms_cfg.get(k) is not None]
    ordered = [str(a) for a in ordered]
    present = sorted({str(a) for a in analysis["arm"].dropna().unique()})
    return ordered + [a for a in present if a not in ordered]


def arm_colours(arms: list[str]) -> dict[str, str]:
    """Map arm names to Okabe-Ito colours in the given order.

    Parameters
    ----------
    arms : list of str
        Arms in display order; the first (reference) arm gets ``#0072B2`` and
        the second (treatment) arm ``#D55E00``.

    Returns
    -------
    dict
        Arm name to hex colour.
    """
    return {arm: OKABE_ITO[i % len(OKABE_ITO)] for i, arm in enumerate(arms)}


def _outcome_config(config: dict, outcome: str) -> dict:
    for oc in config.get("outcomes", []) or []:
        if str(oc.get("name")) == str(outcome):
            return oc
    return {}


def _visit_order(analysis: pd.DataFrame, config: dict) -> list[str]:
    order = [str(v) for v in (config.get("visits", {}) or {}).get("order", []) or []]
    if order:
        return order
    return sorted({str(v) for v in analysis["visit"].dropna().unique()})


def _baseline_label(config: dict, order: list[str]) -> str | None:
    visits = config.get("visits", {}) or {}
    if visits.get("baseline") is not None:
        return str(visits["baseline"])
    return order[0] if order else None


def _subset(analysis: pd.DataFrame, outcome: str, visits: list[str]) -> pd.DataFrame:
    """Rows of one outcome with a non-missing score at a known visit."""
    df = analysis.loc[analysis["outcome"].astype(str) == str(outcome)].copy()
    if df.empty:
        raise ValueError(f"outcome {outcome!r} not found in the analysis table")
    df["arm"] = df["arm"].astype(str)
    df["visit"] = df["visit"].astype(str)
    df["participant"] = df["participant"].astype(str)
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    df["change"] = pd.to_numeric(df["change"], errors="coerce")
    df = df.loc[df["score"].notna() & np.isfinite(df["score"].to_numpy(dtype=float))]
    df = df.loc[df["visit"].isin(visits)]
    return df


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
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, n


def _better_suffix(better: str | None) -> str:
    if better in ("lower", "higher"):
        return f" ({better} is better)"
    return ""


def _save(fig: plt.Figure, path: str | PathLike) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=_DPI, metadata={"Software": None})


# --------------------------------------------------------------------------
# public plots
# --------------------------------------------------------------------------
def plot_mean_change(
    analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike
) -> None:
    """Plot mean change from baseline with t-based confidence intervals by arm.

    For each arm and post-baseline visit the mean of ``change`` is drawn
    with the interval ``mean ± t_{0.975, n-1} · SD / √n`` (the level follows
    ``config["analysis"]["alpha"]``, 0.05 by default, i.e. a 95% interval).
    Baseline is drawn at 0. Visits follow ``config["visits"]["order"]``; the
    arms are dodged slightly along the x axis. Rows with a missing ``score``
    are dropped.

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
    order = _visit_order(analysis, config)
    raw = (config.get("analysis", {}) or {}).get("response") == "raw"
    value = "score" if raw else "change"  # raw-score analyses show mean scores
    baseline = None if raw else _baseline_label(config, order)
    df = _subset(analysis, outcome, order)
    df[value] = pd.to_numeric(df[value], errors="coerce")
    arms = _arm_order(analysis, config)
    colours = arm_colours(arms)
    oc = _outcome_config(config, outcome)
    alpha = float((config.get("analysis", {}) or {}).get("alpha", 0.05))
    level = 1.0 - alpha
    level_pct = f"{100 * level:g}%"

    xpos = {v: i for i, v in enumerate(order)}
    n_arms = max(len(arms), 1)
    width = 0.08
    offsets = {arm: (i - (n_arms - 1) / 2.0) * width for i, arm in enumerate(arms)}

    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=_FIGSIZE_MEAN, dpi=_DPI)
        if not raw:
            ax.axhline(0.0, color="0.35", linestyle="--", linewidth=1.0, zorder=1)
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
            ax.plot(
                x, mean, color=colour, marker="o", markersize=6, linewidth=2.0,
                label=f"{arm} (n = {n_arm})", zorder=3,
            )
            if has_ci.any():
                ax.errorbar(
                    x[has_ci], mean[has_ci],
                    yerr=np.vstack([mean[has_ci] - lo[has_ci], hi[has_ci] - mean[has_ci]]),
                    fmt="none", ecolor=colour, elinewidth=1.5, capsize=4, zorder=2,
                )
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order)
        ax.set_xlim(-0.4, len(order) - 0.6)
        ax.set_xlabel("Visit")
        if raw:
            ax.set_ylabel(f"{outcome}{_better_suffix(oc.get('better'))}")
            ax.set_title(f"{outcome}: mean by arm ({level_pct} CI)")
        else:
            ax.set_ylabel(f"Change from baseline in {outcome}{_better_suffix(oc.get('better'))}")
            ax.set_title(f"{outcome}: mean change from baseline ({level_pct} CI)")
        ax.legend(title="Arm", loc="best", frameon=True)
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)


def plot_trajectories(
    analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike
) -> None:
    """Plot individual participant score trajectories, one panel per arm.

    Each participant's observed scores are joined across the visits in
    ``config["visits"]["order"]`` as thin translucent lines in the arm's
    colour; the arm mean at each visit is overlaid as a thick line. Panels
    share the y axis, limited to the outcome's ``range`` when configured.
    Rows with a missing ``score`` are dropped.

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
    order = _visit_order(analysis, config)
    df = _subset(analysis, outcome, order)
    arms = _arm_order(analysis, config)
    colours = arm_colours(arms)
    oc = _outcome_config(config, outcome)
    xpos = {v: i for i, v in enumerate(order)}

    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, axes = plt.subplots(
            1, len(arms), figsize=_FIGSIZE_TRAJ, dpi=_DPI, sharey=True, squeeze=False
        )
        for ax, arm in zip(axes[0], arms):
            colour = colours[arm]
            arm_df = df.loc[df["arm"] == arm].copy()
            arm_df["_x"] = arm_df["visit"].map(xpos)
            arm_df = arm_df.sort_values(["participant", "_x"], kind="mergesort")
            participants = sorted(arm_df["participant"].unique())
            for pid in participants:
                p = arm_df.loc[arm_df["participant"] == pid]
                ax.plot(
                    p["_x"].to_numpy(dtype=float), p["score"].to_numpy(dtype=float),
                    color=colour, alpha=0.35, linewidth=0.8, marker="o", markersize=2,
                    zorder=2,
                )
            mx, my = [], []
            for visit in order:
                vals = arm_df.loc[arm_df["visit"] == visit, "score"].to_numpy(dtype=float)
                if vals.size:
                    mx.append(xpos[visit])
                    my.append(float(vals.sum() / vals.size))
            if mx:
                ax.plot(
                    mx, my, color=colour, linewidth=3.0, marker="o", markersize=7,
                    markeredgecolor="white", label="Arm mean", zorder=4,
                )
                ax.legend(loc="best", frameon=True)
            ax.set_title(f"{arm} (n = {len(participants)})", color=colour, fontweight="bold")
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels(order)
            ax.set_xlim(-0.3, len(order) - 0.7)
            ax.set_xlabel("Visit")
        rng = oc.get("range")
        if rng is not None and len(rng) == 2 and all(r is not None for r in rng):
            lo, hi = float(rng[0]), float(rng[1])
            pad = 0.02 * (hi - lo)
            axes[0][0].set_ylim(lo - pad, hi + pad)
        axes[0][0].set_ylabel(f"{outcome} score{_better_suffix(oc.get('better'))}")
        fig.suptitle(f"{outcome}: individual trajectories by arm")
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)


def plot_crossover(table: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> None:
    """Crossover trial: each participant's change from the period baseline under each
    treatment, one panel per sequence, periods in order, arm means overlaid.

    ``table`` is :func:`pilottrial.models.crossover.crossover_table` (``participant, sequence, period,
    treatment, change``, one row per participant x period).
    """
    df = table[table["outcome"] == outcome].dropna(subset=["change"]) if "outcome" in table else \
        table.dropna(subset=["change"])
    reference, treatment = config["arms"]["reference"], config["arms"]["treatment"]
    colours = arm_colours([reference, treatment])
    sequences = list((config.get("crossover") or {}).get("sequences", {}))
    sequences = sequences or sorted(df["sequence"].unique())
    oc = _outcome_config(config, outcome)
    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, axes = plt.subplots(1, len(sequences), figsize=(9.0, 4.5), dpi=_DPI, sharey=True, squeeze=False)
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
            ax.axhline(0.0, color="0.35", linestyle="--", linewidth=1.0, zorder=0)
            ax.set_title(f"sequence {sequence} (n = {seq['participant'].nunique()})")
        axes[0][0].set_ylabel(f"Change from period baseline in {outcome}{_better_suffix(oc.get('better'))}")
        fig.suptitle(f"{outcome}: change within each period by sequence (bars: means)")
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)
