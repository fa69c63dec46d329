"""Missing data: the pattern of missing assessments and the tipping-point analysis (PNG and SVG).

* :func:`plot_missing_pattern` -- observed and missing assessments, participant x visit, by arm;
* :func:`plot_tipping` -- the delta-adjusted multiple-imputation estimate against delta.
"""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patches

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import arm_order, efficacy_names, outcome_rows, visit_order
from pilottrial.report.figures.labels import level_pct
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, MISSING_GREY, arm_colours, theme

__all__ = ["plot_missing_pattern", "plot_tipping"]


def plot_missing_pattern(analysis: pd.DataFrame, config: dict, path: str | PathLike,
                         outcome: str | None = None) -> pd.DataFrame:
    """Grid of participants x visits, observed or missing, grouped by arm.

    One panel per arm (height proportional to its size); a filled cell in the arm's colour is
    an observed score, a light grey cell with a cross a missing one. Within an arm,
    participants are sorted by their last observed visit (dropouts at the bottom), then by
    code, so monotone dropout shows as a staircase. Tick labels give ``observed/randomized``
    per visit.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table.
    config : dict
        Trial config.
    path : str or path-like
        PNG path; the SVG is written beside it.
    outcome : str, optional
        Default: the primary outcome.

    Returns
    -------
    pandas.DataFrame
        One row per participant in the order drawn: ``participant, arm`` and one boolean
        column per visit (True = observed).
    """
    trial = Trial.from_config(config)
    outcome = outcome or trial.primary.name
    rows = outcome_rows(analysis, outcome)
    order = visit_order(trial, analysis)
    arms = arm_order(trial, analysis)
    colours = arm_colours(arms)
    observed = (rows.assign(obs=rows["score"].notna())
                .pivot_table(index=["participant", "arm"], columns="visit", values="obs", aggfunc="any")
                .reindex(columns=order).fillna(False).astype(bool).reset_index())
    observed.columns.name = None
    ranks = np.array([max([i for i, ok in enumerate(r) if ok], default=-1)
                      for r in observed[order].to_numpy()])
    n_obs = observed[order].to_numpy().sum(axis=1)
    observed = observed.assign(_last=-ranks, _nobs=-n_obs, _arm=observed["arm"].map({a: i for i, a in enumerate(arms)}))
    observed = observed.sort_values(["_arm", "_last", "_nobs", "participant"], kind="mergesort")
    observed = observed.drop(columns=["_last", "_nobs", "_arm"]).reset_index(drop=True)
    sizes = [max(int((observed["arm"] == a).sum()), 1) for a in arms]
    fig_h = 1.1 + 0.17 * sum(sizes) + 0.75 * len(arms)

    with theme("white", "report"):
        fig, axes = plt.subplots(len(arms), 1, figsize=(6.0, fig_h), dpi=DPI, squeeze=False,
                                 gridspec_kw={"height_ratios": sizes})
        for ax, arm in zip(axes[:, 0], arms):
            part = observed.loc[observed["arm"] == arm].reset_index(drop=True)
            grid = part[order].to_numpy(dtype=bool)
            for r in range(grid.shape[0]):
                for c in range(grid.shape[1]):
                    face = colours[arm] if grid[r, c] else MISSING_GREY
                    ax.add_patch(patches.Rectangle((c - 0.45, r - 0.4), 0.9, 0.8, facecolor=face,
                                                   edgecolor="white", linewidth=0.5))
                    if not grid[r, c]:
                        ax.plot([c], [r], marker="x", color="0.45", markersize=4, markeredgewidth=1.0)
            ax.set_xlim(-0.5, len(order) - 0.5)
            ax.set_ylim(max(len(part), 1) - 0.5, -0.5)
            ax.set_yticks(range(len(part)))
            ax.set_yticklabels(part["participant"], fontsize=6.5)
            ax.set_xticks(range(len(order)))
            counts = grid.sum(axis=0) if len(part) else np.zeros(len(order), dtype=int)
            ax.set_xticklabels([f"{v}\n{int(n)}/{len(part)}" for v, n in zip(order, counts)], fontsize=7.5)
            ax.tick_params(length=0)
            for side in ("top", "right", "left", "bottom"):
                ax.spines[side].set_visible(False)
            complete = int(grid.all(axis=1).sum()) if len(part) else 0
            ax.set_title(f"{arm} (n = {len(part)}; {complete} with every visit)", color=colours[arm],
                         fontweight="bold", fontsize=9, loc="left")
        handles = [patches.Patch(facecolor="0.5", label="observed (arm colour)"),
                   patches.Patch(facecolor=MISSING_GREY, label="missing")]
        fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
        fig.suptitle(f"{outcome}: observed and missing assessments by participant", fontsize=10)
        save_figure(fig, path, tight_layout={"rect": (0, 0.03, 1, 1)})
    return observed


def plot_tipping(tipping: pd.DataFrame, config: dict, path: str | PathLike) -> pd.DataFrame:
    """The tipping-point analysis: estimate and interval against delta, one panel per outcome.

    The line is the Rubin's-rules estimate of the treatment difference at each delta (filled
    markers: the interval excludes 0), the band its confidence interval, the solid line no
    difference. A dotted vertical line marks the smallest delta at which the conclusion
    changes, labelled with the new conclusion; when it never changes within the grid the
    panel says so.

    Parameters
    ----------
    tipping : pandas.DataFrame
        ``tipping_point.csv`` of :func:`pilottrial.analyses.missing.tipping_point`.
    config : dict
        Trial config (arms, outcomes, ``analysis.alpha``).
    path : str or path-like
        PNG path; the SVG is written beside it.

    Returns
    -------
    pandas.DataFrame
        One row per outcome: ``outcome, visit, conclusion_at_zero, tipping_delta,
        conclusion_after, delta_max``.

    Notes
    -----
    Delta is added to every imputed value of the treatment arm in the unfavourable direction
    (see :func:`pilottrial.analyses.missing.tipping_point`); at delta = 0 the analysis is MI under MAR.
    """
    trial = Trial.from_config(config)
    alpha = trial.alpha
    reference, treatment = trial.reference, trial.treatment
    colour = arm_colours(trial.arms)[treatment]
    table = tipping.copy()
    table["outcome"] = table["outcome"].astype(str)
    known = {o: i for i, o in enumerate(efficacy_names(trial))}
    outcomes = sorted(set(table["outcome"]), key=lambda o: (known.get(o, len(known)), o))
    if not outcomes:
        raise ValueError("the tipping-point table is empty")
    summary = []
    n = len(outcomes)
    with theme("whitegrid", "report"):
        fig, axes = plt.subplots(1, n, figsize=(min(8.0, 1.2 + 2.9 * n), 3.9), dpi=DPI, squeeze=False)
        for ax, outcome in zip(axes[0], outcomes):
            part = table.loc[table["outcome"] == outcome].sort_values("delta", kind="mergesort")
            d = part["delta"].to_numpy(dtype=float)
            est = part["estimate"].to_numpy(dtype=float)
            lo, hi = part["ci_lower"].to_numpy(dtype=float), part["ci_upper"].to_numpy(dtype=float)
            sig = part["significant"].astype(str).str.lower().isin({"true", "1"}).to_numpy()
            ax.fill_between(d, lo, hi, color=colour, alpha=0.18, linewidth=0, zorder=1)
            ax.plot(d, est, color=colour, linewidth=1.8, zorder=2)
            ax.plot(d[sig], est[sig], linestyle="none", marker="o", markersize=3.5, color=colour, zorder=3)
            ax.plot(d[~sig], est[~sig], linestyle="none", marker="o", markersize=3.5, markerfacecolor="white",
                    markeredgecolor=colour, zorder=3)
            ax.axhline(0.0, color="0.25", linewidth=1.0, zorder=1)
            conclusion = part["conclusion"].astype(str).to_numpy()
            tip = pd.to_numeric(part["tipping_delta"], errors="coerce").dropna()
            tip = float(tip.iloc[0]) if len(tip) else np.nan
            after = ""
            if np.isfinite(tip):
                after = str(conclusion[np.flatnonzero(d >= tip)[0]])
                ax.axvline(tip, color="0.15", linestyle=":", linewidth=1.4, zorder=2)
                note = f"tipping point at \u03b4 = {tip:g}\n{conclusion[0]} \u2192 {after}"
            else:
                note = f"no tipping point up to \u03b4 = {d.max():g}\n({conclusion[0]} throughout)"
            visit = str(part["visit"].iloc[0]) if "visit" in part else ""
            ax.set_title(f"{outcome} at {visit}", fontsize=9.5, fontweight="bold", pad=24)
            ax.text(0.5, 1.015, note, transform=ax.transAxes, ha="center", va="bottom", fontsize=7.5,
                    color="0.2")
            summary.append({"outcome": outcome, "visit": visit, "conclusion_at_zero": str(conclusion[0]),
                            "tipping_delta": tip, "conclusion_after": after, "delta_max": float(d.max())})
        axes[0][0].set_ylabel(f"Difference {treatment} \u2212 {reference}\n({level_pct(alpha)} CI, MI)")
        fig.suptitle("Tipping-point analysis (delta-adjusted multiple imputation; "
                     "filled: CI excludes 0)", fontsize=10)
        fig.supxlabel("\u03b4: shift added to every imputed value of the treatment arm, in the unfavourable "
                      "direction (outcome units)", fontsize=8)
        save_figure(fig, path)
    return pd.DataFrame(summary, columns=["outcome", "visit", "conclusion_at_zero", "tipping_delta",
                                          "conclusion_after", "delta_max"])
