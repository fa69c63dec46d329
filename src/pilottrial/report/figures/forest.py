"""Forest plot of the treatment differences at the key visits (PNG and SVG)."""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import efficacy_names
from pilottrial.report.figures.labels import favours, level_pct, number, p_value
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, theme

__all__ = ["plot_forest"]


def plot_forest(contrasts: pd.DataFrame, config: dict, path: str | PathLike,
                multiplicity: pd.DataFrame | None = None, effect_sizes: pd.DataFrame | None = None,
                model: str = "mmrm") -> pd.DataFrame:
    """Forest plot of the treatment differences of the efficacy outcomes at the key visits.

    One small panel per outcome (outcomes have different scales), one row per key visit:
    the difference treatment minus reference in adjusted mean change with its confidence
    interval, a solid line at no difference and dashed lines at minus and plus the outcome's
    MCID (``outcomes[].mcid``; none when not set). Beside each row: the estimate, the
    interval and the p value (with the multiplicity-adjusted p when ``multiplicity`` is
    given). With ``effect_sizes`` a third column shows the standardized difference
    (Hedges' g, the MMRM difference over the pooled baseline SD) on one common axis.

    Parameters
    ----------
    contrasts : pandas.DataFrame
        ``contrasts.csv`` (``outcome, model, visit, estimate, ci_lower, ci_upper, p_value``).
    config : dict
        Trial config (arms, visits.key, outcomes with role, better, mcid; analysis.alpha).
    path : str or path-like
        PNG path; the SVG is written beside it.
    multiplicity : pandas.DataFrame, optional
        ``multiplicity.csv`` (``outcome, visit, p_adjusted, adjustment``).
    effect_sizes : pandas.DataFrame, optional
        ``effect_sizes.csv``; rows with ``method == "mmrm_over_baseline_sd"`` are drawn.
    model : str, default ``"mmrm"``
        Which model's contrasts to draw.

    Returns
    -------
    pandas.DataFrame
        The rows drawn: ``outcome, visit, estimate, ci_lower, ci_upper, p_value, p_adjusted,
        mcid`` (and ``g, g_lower, g_upper`` with effect sizes).

    Notes
    -----
    Key visits are ``visits.key`` (all post-baseline visits if not set); an outcome measured
    at none of them shows the visits it has. Outcomes: the efficacy outcomes (role
    ``efficacy``), primary first.
    """
    trial = Trial.from_config(config)
    reference, treatment = trial.reference, trial.treatment
    alpha = trial.alpha
    table = contrasts.copy()
    if "model" in table:
        table = table.loc[table["model"].astype(str) == model]
    table["outcome"] = table["outcome"].astype(str)
    table["visit"] = table["visit"].astype(str)
    order = list(trial.visit_order)
    key = list(trial.key_visits) or [v for v in order if v != trial.baseline]
    rows = []
    for outcome in efficacy_names(trial):
        part = table.loc[table["outcome"] == outcome]
        if part.empty:
            continue
        visits = [v for v in key if v in set(part["visit"])]
        visits = visits or [v for v in order if v in set(part["visit"])] or sorted(set(part["visit"]))
        mcid = trial.outcome(outcome).mcid
        for v in visits:
            r = part.loc[part["visit"] == v].iloc[0]
            rows.append({"outcome": outcome, "visit": v, "estimate": float(r["estimate"]),
                         "ci_lower": float(r["ci_lower"]), "ci_upper": float(r["ci_upper"]),
                         "p_value": float(r.get("p_value", np.nan)), "p_adjusted": np.nan,
                         "adjustment": "", "mcid": float(mcid) if mcid is not None else np.nan})
    drawn = pd.DataFrame(rows, columns=["outcome", "visit", "estimate", "ci_lower", "ci_upper", "p_value",
                                        "p_adjusted", "adjustment", "mcid"])
    if drawn.empty:
        raise ValueError("no contrasts of an efficacy outcome to draw")
    if multiplicity is not None and not multiplicity.empty:
        mult = multiplicity.copy()
        if "model" in mult:
            mult = mult.loc[mult["model"].astype(str) == model]
        mult = mult.assign(outcome=mult["outcome"].astype(str), visit=mult["visit"].astype(str))
        lookup = mult.set_index(["outcome", "visit"])
        for i, r in drawn.iterrows():
            if (r["outcome"], r["visit"]) in lookup.index:
                hit = lookup.loc[(r["outcome"], r["visit"])]
                hit = hit.iloc[0] if isinstance(hit, pd.DataFrame) else hit
                drawn.at[i, "p_adjusted"] = float(hit["p_adjusted"])
                drawn.at[i, "adjustment"] = str(hit.get("adjustment", ""))
    with_g = effect_sizes is not None and not effect_sizes.empty
    if with_g:
        es = effect_sizes.loc[effect_sizes["method"].astype(str) == "mmrm_over_baseline_sd"].copy()
        es = es.assign(outcome=es["outcome"].astype(str), visit=es["visit"].astype(str))
        es = es.set_index(["outcome", "visit"])
        g = [es.loc[(o, v)] if (o, v) in es.index else None for o, v in zip(drawn["outcome"], drawn["visit"])]
        drawn["g"] = [float(x["estimate"]) if x is not None else np.nan for x in g]
        drawn["g_lower"] = [float(x["ci_lower"]) if x is not None else np.nan for x in g]
        drawn["g_upper"] = [float(x["ci_upper"]) if x is not None else np.nan for x in g]
        with_g = bool(np.isfinite(drawn["g"]).any())

    outcomes = list(dict.fromkeys(drawn["outcome"]))
    n_rows = [int((drawn["outcome"] == o).sum()) for o in outcomes]
    heights = [n + 2.2 for n in n_rows]
    fig_h = 0.8 + 0.34 * sum(heights)
    ratios = [3.0, 2.7] + ([2.1] if with_g else [])
    diff_text = [f"{number(a)} ({number(b)} to {number(c)})" for a, b, c in
                 zip(drawn["estimate"], drawn["ci_lower"], drawn["ci_upper"])]
    text_width_in = 7.4 * ratios[1] / sum(ratios)
    p_x = min(0.78, (max(len(t) for t in diff_text) + 2) * 0.58 * 8 / 72 / text_width_in)
    if with_g:
        g_vals = drawn[["g", "g_lower", "g_upper"]].to_numpy(dtype=float)
        g_vals = g_vals[np.isfinite(g_vals)]
        g_lim = max(1.0, float(np.abs(g_vals).max()) * 1.1 if g_vals.size else 1.0)
    with theme("whitegrid", "report"):
        fig, axes = plt.subplots(len(outcomes), len(ratios), figsize=(8.0, fig_h), dpi=DPI, squeeze=False,
                                 gridspec_kw={"height_ratios": heights, "width_ratios": ratios})
        for k, outcome in enumerate(outcomes):
            part = drawn.loc[drawn["outcome"] == outcome].reset_index(drop=True)
            better = trial.outcome(outcome).better
            ax, tax = axes[k][0], axes[k][1]
            ypos = np.arange(len(part))[::-1].astype(float)
            mcid = part["mcid"].iloc[0]
            ax.axvline(0.0, color="0.25", linewidth=1.0, zorder=1)
            if np.isfinite(mcid):
                for sign in (-1, 1):
                    ax.axvline(sign * mcid, color=GREY, linestyle="--", linewidth=1.0, zorder=1)
            est = part["estimate"].to_numpy(dtype=float)
            lo, hi = part["ci_lower"].to_numpy(dtype=float), part["ci_upper"].to_numpy(dtype=float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.hlines(ypos[ok], lo[ok], hi[ok], color="0.15", linewidth=1.8, zorder=2)
            ax.plot(est, ypos, marker="s", linestyle="none", color="0.15", markersize=6, zorder=3)
            span = np.concatenate([est, lo[ok], hi[ok], [0.0], [mcid, -mcid] if np.isfinite(mcid) else []])
            span = span[np.isfinite(span)]
            low, high = float(span.min()), float(span.max())
            pad = 0.08 * (high - low or 1.0)
            ax.set_xlim(low - pad, high + pad)
            ax.set_ylim(-0.6, len(part) - 0.4)
            ax.set_yticks(ypos)
            ax.set_yticklabels(part["visit"])
            ax.grid(axis="y", visible=False)
            ax.set_title(f"{outcome}" + (f"  (dashed: \u00b1MCID = {mcid:g})" if np.isfinite(mcid) else ""),
                         loc="left", fontsize=9.5)
            label = f"Difference in mean change ({treatment} \u2212 {reference})"
            note = favours(better, reference, treatment)
            ax.set_xlabel(label + ("\n" + note if note else ""), fontsize=8)
            # text column
            tax.set_axis_off()
            tax.set_ylim(ax.get_ylim())
            tax.set_xlim(0, 1)
            tax.text(0.0, len(part) - 0.4, f"Difference ({level_pct(alpha)} CI)", fontsize=8,
                     fontweight="bold", va="bottom")
            tax.text(p_x, len(part) - 0.4, "p", fontsize=8, fontweight="bold", va="bottom")
            for y, r in zip(ypos, part.itertuples()):
                tax.text(0.0, y, f"{number(r.estimate)} ({number(r.ci_lower)} to {number(r.ci_upper)})",
                         fontsize=8, va="center")
                p_text = p_value(r.p_value)
                if np.isfinite(r.p_adjusted) and not str(r.adjustment).startswith("none") \
                        and not np.isclose(r.p_adjusted, r.p_value):
                    p_text += f"; adj. {p_value(r.p_adjusted)}"
                tax.text(p_x, y, p_text, fontsize=8, va="center")
            if with_g:
                gax = axes[k][2]
                gax.axvline(0.0, color="0.25", linewidth=1.0, zorder=1)
                gv = part["g"].to_numpy(dtype=float)
                gl, gu = part["g_lower"].to_numpy(dtype=float), part["g_upper"].to_numpy(dtype=float)
                gok = np.isfinite(gl) & np.isfinite(gu)
                gax.hlines(ypos[gok], gl[gok], gu[gok], color="0.15", linewidth=1.8, zorder=2)
                gax.plot(gv, ypos, marker="D", linestyle="none", color="0.15", markersize=5, zorder=3)
                gax.set_xlim(-g_lim, g_lim)
                gax.set_ylim(ax.get_ylim())
                gax.set_yticks(ypos)
                gax.set_yticklabels([])
                gax.grid(axis="y", visible=False)
                gax.set_title(f"Hedges' g ({level_pct(alpha)} CI)" if k == 0 else "", loc="left", fontsize=9)
                gax.set_xlabel("MMRM difference / baseline SD", fontsize=8)
        which = "the key visits" if trial.key_visits else "each visit"
        fig.suptitle(f"Treatment differences at {which} ({model.upper()}, {level_pct(alpha)} CI)",
                     fontsize=10.5)
        shown = drawn.loc[np.isfinite(drawn["p_adjusted"]) & ~drawn["adjustment"].astype(str).str.startswith("none")
                          & ~np.isclose(drawn["p_adjusted"], drawn["p_value"])]
        methods = []
        for r in shown.itertuples():
            text = str(r.adjustment)
            text = text[: -len(f" at {r.visit}")] if text.endswith(f" at {r.visit}") else text
            if text not in methods:
                methods.append(text)
        bottom = 0.0
        if methods:
            fig.text(0.01, 0.005, "adj.: adjusted p, " + "; ".join(methods) + (" (at each visit)" if any(
                str(a).endswith(f" at {v}") for a, v in zip(shown["adjustment"], shown["visit"])) else ""),
                     fontsize=7.5, ha="left", va="bottom", color="0.25")
            bottom = 0.35 / fig_h
        save_figure(fig, path, tight_layout={"h_pad": 0.6, "rect": (0, bottom, 1, 1)})
    return drawn
