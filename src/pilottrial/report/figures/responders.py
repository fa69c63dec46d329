"""Responder and remission proportions by arm with Wilson intervals (PNG and SVG)."""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patches

from pilottrial.analyses.feasibility import wilson_interval
from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import efficacy_names, outcome_spec, responder_improvement
from pilottrial.report.figures.labels import level_pct
from pilottrial.report.figures.layout import placeholder_figure
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, arm_colours, theme
from pilottrial.report.format import arm_label

__all__ = ["plot_responders"]


def _arm_rows(table: pd.DataFrame, trial: Trial) -> list:
    """``(row, (reference arm, treatment arm))`` for the counts of each arm, once per outcome x
    definition x visit: in a two-arm trial every row; with three or more arms (a ``treatment``
    column naming the comparison) each arm's counts from the first comparison that includes it."""
    if not trial.is_multi_arm or "treatment" not in table:
        return [(r, (trial.reference, trial.treatment)) for r in table.itertuples()]
    pairs = {c.name: c.arms for c in trial.comparisons}
    seen, out = set(), []
    for r in table.itertuples():
        pair = pairs.get(str(r.treatment))
        if pair is None:
            continue
        for arm, side in zip(pair, ("reference", "treatment")):
            key = (r.outcome, r.definition, r.visit, arm)
            if key not in seen:
                seen.add(key)
                out.append((r, (arm, None) if side == "reference" else (None, arm)))
    return out


def plot_responders(responders: pd.DataFrame, config: dict, path: str | PathLike) -> pd.DataFrame:
    """Responder and remission proportions by arm with Wilson intervals.

    A grid of panels, one row per definition (response, remission) and one column per
    outcome; within a panel, the key visits on the x axis with one bar per arm, its
    Wilson interval and ``n/N`` above it.

    Parameters
    ----------
    responders : pandas.DataFrame
        ``responders.csv`` of :func:`pilottrial.analyses.responders.responder_table`.
    config : dict
        Trial config (arms, outcomes, ``analysis.alpha``, ``analysis.responder_improvement``).
    path : str or path-like
        PNG path; the SVG is written beside it.

    Returns
    -------
    pandas.DataFrame
        ``outcome, definition, visit, arm, n, N, proportion, ci_lower, ci_upper`` as drawn.

    Notes
    -----
    Denominators are the participants observed at the visit (the responder table's
    complete-case analysis). Intervals: :func:`pilottrial.analyses.feasibility.wilson_interval`.
    A panel of an outcome without a remission cut-off says so.
    """
    trial = Trial.from_config(config)
    arms = list(trial.arms)  # reference first; two arms: (reference, treatment)
    colours = arm_colours(trial.arms)
    alpha = trial.alpha
    table = responders.copy()
    table["outcome"] = table["outcome"].astype(str)
    table["visit"] = table["visit"].astype(str)
    table["definition"] = table["definition"].astype(str)
    outcome_order = {o: i for i, o in enumerate(efficacy_names(trial))}
    outcomes = sorted(set(table["outcome"]), key=lambda o: (outcome_order.get(o, len(outcome_order)), o))
    definitions = [d for d in ("response", "remission") if d in set(table["definition"])]
    definitions += sorted(set(table["definition"]) - set(definitions))
    order = {v: i for i, v in enumerate(trial.visit_order)}
    rows = []
    for r, pair in _arm_rows(table, trial):
        for arm, side in zip(pair, ("reference", "treatment")):
            if arm is None:
                continue
            n, N = getattr(r, f"n_{side}"), getattr(r, f"N_{side}")
            lo, hi = wilson_interval(n, N, alpha)
            rows.append({"outcome": r.outcome, "definition": r.definition, "visit": r.visit, "arm": arm,
                         "n": int(n), "N": int(N), "proportion": n / N if N else np.nan, "ci_lower": lo,
                         "ci_upper": hi, "threshold": float(r.threshold)})
    drawn = pd.DataFrame(rows, columns=["outcome", "definition", "visit", "arm", "n", "N", "proportion",
                                        "ci_lower", "ci_upper", "threshold"])
    if drawn.empty:
        placeholder_figure(path, "Responders by arm", "Nothing to draw: the responder table is empty.")
        return drawn.drop(columns="threshold")
    improvement = responder_improvement(trial)
    # up to three outcomes side by side (a row per definition); more: a row per outcome
    transposed = len(outcomes) > 3
    shape = (len(outcomes), len(definitions)) if transposed else (len(definitions), len(outcomes))
    n_visits = max(int(drawn.groupby(["outcome", "definition"])["visit"].nunique().max()), 1)
    width_in = min(11.0, max(8.0, 1.0 + shape[1] * (0.55 + 0.42 * n_visits))) if n_visits > 4 else 8.0

    with theme("whitegrid", "report"):
        fig, axes = plt.subplots(shape[0], shape[1], figsize=(width_in, 0.6 + 2.9 * shape[0]),
                                 dpi=DPI, squeeze=False, sharey=True)
        width = 0.36 if len(arms) <= 2 else 0.8 / len(arms)
        for i, definition in enumerate(definitions):
            for j, outcome in enumerate(outcomes):
                ax = axes[j][i] if transposed else axes[i][j]
                part = drawn.loc[(drawn["outcome"] == outcome) & (drawn["definition"] == definition)]
                spec = outcome_spec(trial, outcome)
                if definition == "response":
                    what = f"response (\u2265{100 * improvement:g}% improvement)"
                elif definition == "remission" and spec is not None and spec.remission_below is not None:
                    what = f"remission (score < {spec.remission_below:g})"
                else:
                    what = definition
                ax.set_title(f"{outcome}\n{what}", fontsize=8.5)
                ax.set_ylim(0, 1.18)
                ax.set_yticks(np.linspace(0, 1, 6))
                ax.set_yticklabels([f"{int(t * 100)}%" for t in np.linspace(0, 1, 6)])
                if part.empty:
                    ax.set_xticks([])
                    ax.text(0.5, 0.5, "not defined for this outcome", transform=ax.transAxes, ha="center",
                            va="center", fontsize=8, color=GREY)
                    continue
                visits = sorted(set(part["visit"]), key=lambda v: (order.get(v, len(order)), v))
                for k, arm in enumerate(arms):
                    sub = part.loc[part["arm"] == arm].set_index("visit").reindex(visits)
                    x = np.arange(len(visits)) + (k - (len(arms) - 1) / 2.0) * width
                    p = sub["proportion"].to_numpy(dtype=float)
                    lo, hi = sub["ci_lower"].to_numpy(dtype=float), sub["ci_upper"].to_numpy(dtype=float)
                    ax.bar(x, p, width=width * 0.95, color=colours[arm], zorder=2,
                           label=arm_label(arm) if (i == 0 and j == 0) else None)
                    ok = np.isfinite(lo) & np.isfinite(hi)
                    ax.errorbar(x[ok], p[ok], yerr=np.vstack([p[ok] - lo[ok], hi[ok] - p[ok]]), fmt="none",
                                ecolor="0.2", elinewidth=1.0, capsize=3, zorder=3)
                    crowded = len(visits) > 4 or len(visits) * len(arms) > 8
                    for xi, hi_i, n, N in zip(x, hi, sub["n"], sub["N"]):
                        if pd.notna(n):
                            ax.text(xi, (hi_i if np.isfinite(hi_i) else 0) + 0.02, f"{int(n)}/{int(N)}",
                                    ha="center", va="bottom", fontsize=6 if crowded else 7, zorder=4,
                                    rotation=90 if crowded else 0)
                ax.set_xticks(np.arange(len(visits)))
                ax.set_xticklabels(visits)
                if crowded:
                    ax.set_ylim(0, 1.32)
                ax.set_xlim(-0.6, len(visits) - 0.4)
                ax.grid(axis="x", visible=False)
        for row in axes:
            row[0].set_ylabel("Participants (%)")
        handles = [patches.Patch(color=colours[a], label=arm_label(a)) for a in arms]
        fig.legend(handles=handles, loc="lower center", ncol=len(arms) if len(arms) <= 4 else 3, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
        fig.suptitle(f"Responders by arm (observed data; {level_pct(alpha)} Wilson CI; n/N above the bars)",
                     fontsize=10)
        save_figure(fig, path, tight_layout={"rect": (0, 0.32 / fig.get_figheight(), 1, 1)})  # legend row
    return drawn.drop(columns="threshold")
