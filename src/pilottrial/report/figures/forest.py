"""Forest plot of the treatment differences at the key visits (PNG and SVG)."""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import efficacy_names
from pilottrial.report.figures.labels import at_visit, favours, level_pct, number, p_value, shortened
from pilottrial.report.figures.layout import placeholder_figure, text_width
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, arm_colours, theme
from pilottrial.report.format import arm_label, as_float, not_estimable_reason, not_estimable_text

__all__ = ["plot_forest"]


def _p_position(fig, axes, p_x: float, p_start_in: float) -> tuple[float, float]:
    """Where the p column starts (fraction of the text column) and the room from the text column's
    left edge to the next panel or the figure's edge (inches), in the current layout."""
    width = fig.get_size_inches()[0]
    tax = axes[0][1].get_position()
    right = axes[0][2].get_position().x0 if len(axes[0]) > 2 else 1.0
    return max(p_x, p_start_in / (tax.width * width)), (right - tax.x0) * width


#: Least height of a row of the forest plot (inches).
_MIN_ROW = 0.2


def _number(x) -> float:
    """A table cell as a float (NaN when missing or not a number)."""
    value = as_float(x)
    return np.nan if value is None else value


def _difference_text(r) -> str:
    """``"−12.3 (−19.9 to −4.7)"``; ``"not estimable"`` for a row without an estimate."""
    if not np.isfinite(r.estimate):
        return "not estimable"
    return f"{number(r.estimate)} ({number(r.ci_lower)} to {number(r.ci_upper)})"


def _p_text(r) -> str:
    """The p value, with the adjusted one when it differs; empty for a row without an estimate."""
    if not np.isfinite(r.estimate):
        return ""
    text = p_value(r.p_value)
    if np.isfinite(r.p_adjusted) and not str(r.adjustment).startswith("none") and not np.isclose(r.p_adjusted,
                                                                                                 r.p_value):
        text += f"; adj. {p_value(r.p_adjusted)}"
    return text


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
    multi = trial.is_multi_arm
    if multi:  # one row per comparison at each visit; the axis names the arm of each row
        reference = trial.reference if trial.comparison_mode == "vs_reference" else "the second-named arm"
        short_reference, short_treatment = shortened(arm_label(reference), 28), "the arm of the row"
    else:
        reference, treatment = trial.reference, trial.treatment
        short_reference, short_treatment = (shortened(arm_label(a), 28) for a in (reference, treatment))
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
            at = part.loc[part["visit"] == v]
            for comparison in trial.comparisons if multi else [None]:
                if comparison is not None:
                    hits = at.loc[at["treatment"].astype(str) == comparison.name] if "treatment" in at else at.iloc[0:0]
                    if hits.empty:
                        continue
                    r = hits.iloc[0]
                else:
                    r = at.iloc[0]
                reason = not_estimable_reason(r)
                row = {"outcome": outcome, "visit": v, "estimate": _number(r.get("estimate")),
                       "ci_lower": _number(r.get("ci_lower")), "ci_upper": _number(r.get("ci_upper")),
                       "p_value": _number(r.get("p_value")), "p_adjusted": np.nan,
                       "adjustment": "", "mcid": float(mcid) if mcid is not None else np.nan,
                       "note": "" if reason is None else not_estimable_text(reason)}
                if comparison is not None:
                    row.update(treatment=comparison.name, ci_lower_adjusted=_number(r.get("ci_lower_adjusted")),
                               ci_upper_adjusted=_number(r.get("ci_upper_adjusted")))
                rows.append(row)
    drawn = pd.DataFrame(rows, columns=["outcome", "visit", "estimate", "ci_lower", "ci_upper", "p_value",
                                        "p_adjusted", "adjustment", "mcid", "note"]
                         + (["treatment", "ci_lower_adjusted", "ci_upper_adjusted"] if multi else []))
    if drawn.empty:
        placeholder_figure(path, f"Treatment differences ({model.upper()})",
                           "Nothing to draw: no contrast of an efficacy outcome.")
        return drawn
    if multiplicity is not None and not multiplicity.empty:
        mult = multiplicity.copy()
        if "model" in mult:
            mult = mult.loc[mult["model"].astype(str) == model]
        mult = mult.assign(outcome=mult["outcome"].astype(str), visit=mult["visit"].astype(str))
        keys = ["outcome", "visit"] + (["treatment"] if multi and "treatment" in mult else [])
        if len(keys) == 3:
            mult = mult.assign(treatment=mult["treatment"].astype(str))
        lookup = mult.set_index(keys)
        for i, r in drawn.iterrows():
            key = tuple(r[k] for k in keys)
            if key in lookup.index:
                hit = lookup.loc[key]
                hit = hit.iloc[0] if isinstance(hit, pd.DataFrame) else hit
                drawn.at[i, "p_adjusted"] = _number(hit.get("p_adjusted"))
                drawn.at[i, "adjustment"] = str(hit.get("adjustment", ""))
    with_g = effect_sizes is not None and not effect_sizes.empty
    if with_g:
        es = effect_sizes.loc[effect_sizes["method"].astype(str) == "mmrm_over_baseline_sd"].copy()
        es = es.assign(outcome=es["outcome"].astype(str), visit=es["visit"].astype(str))
        keys = ["outcome", "visit"] + (["treatment"] if multi and "treatment" in es else [])
        if len(keys) == 3:
            es = es.assign(treatment=es["treatment"].astype(str))
        es = es.set_index(keys)
        g = [es.loc[k] if k in es.index else None for k in zip(*(drawn[c] for c in keys))]
        g = [x.iloc[0] if isinstance(x, pd.DataFrame) else x for x in g]
        drawn["g"] = [float(x["estimate"]) if x is not None else np.nan for x in g]
        drawn["g_lower"] = [float(x["ci_lower"]) if x is not None else np.nan for x in g]
        drawn["g_upper"] = [float(x["ci_upper"]) if x is not None else np.nan for x in g]
        with_g = bool(np.isfinite(drawn["g"]).any())

    outcomes = list(dict.fromkeys(drawn["outcome"]))
    n_rows = [int((drawn["outcome"] == o).sum()) for o in outcomes]
    heights = [n + 2.2 for n in n_rows]
    fig_h = 0.8 + (0.34 if sum(n_rows) <= 24 else 0.26) * sum(heights)
    ratios = [3.0, 2.7] + ([2.1] if with_g else [])
    diff_text = [_difference_text(r) for r in drawn.itertuples()]
    p_text = [_p_text(r) for r in drawn.itertuples()]
    header = f"Difference ({level_pct(alpha)} CI)"
    with theme("whitegrid", "report"):
        probe = Figure(dpi=DPI)
        FigureCanvasAgg(probe)
        diff_w = max([text_width(probe, t, 8) for t in diff_text] + [text_width(probe, header, 8, "bold")]) / DPI
        p_w = max([text_width(probe, t, 8) for t in p_text] + [text_width(probe, "p", 8, "bold")]) / DPI
    gap_in = 0.08  # inches between the widest difference (or its header) and the p column
    text_width_in = 7.4 * ratios[1] / sum(ratios)
    if diff_w + gap_in + p_w > 0.97 * text_width_in:  # widen the text column so that p fits beside
        others = sum(ratios) - ratios[1]
        need = (diff_w + gap_in + p_w) / 0.97
        ratios[1] = need * others / max(7.4 - need, 2.0)
        text_width_in = 7.4 * ratios[1] / sum(ratios)
    p_x = min(0.78, (max(len(t) for t in diff_text) + 2) * 0.58 * 8 / 72 / text_width_in)
    p_x = max(p_x, (diff_w + gap_in) / text_width_in)  # the p column never runs into the differences
    if with_g:
        g_vals = drawn[["g", "g_lower", "g_upper"]].to_numpy(dtype=float)
        g_vals = g_vals[np.isfinite(g_vals)]
        g_lim = max(1.0, float(np.abs(g_vals).max()) * 1.1 if g_vals.size else 1.0)
    with theme("whitegrid", "report"):
        fig, axes = plt.subplots(len(outcomes), len(ratios), figsize=(8.0, fig_h), dpi=DPI, squeeze=False,
                                 gridspec_kw={"height_ratios": heights, "width_ratios": ratios})
        p_column = []
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
            if multi:
                adj = _draw_comparisons(ax, part, ypos, trial)
                span = np.concatenate([est, lo[ok], hi[ok], adj, [0.0], [mcid, -mcid] if np.isfinite(mcid) else []])
            else:
                ax.hlines(ypos[ok], lo[ok], hi[ok], color="0.15", linewidth=1.8, zorder=2)
                ax.plot(est, ypos, marker="s", linestyle="none", color="0.15", markersize=6, zorder=3)
                span = np.concatenate([est, lo[ok], hi[ok], [0.0], [mcid, -mcid] if np.isfinite(mcid) else []])
            span = span[np.isfinite(span)]
            low, high = float(span.min()), float(span.max())
            pad = 0.08 * (high - low or 1.0)
            ax.set_xlim(low - pad, high + pad)
            ax.set_ylim(-0.6, len(part) - 0.4)
            ax.set_yticks(ypos)
            ax.set_yticklabels([at_visit(v) for v in part["visit"]] if not multi else
                               [f"{at_visit(v)}: {_comparison_label(trial, t)}" for v, t in zip(part["visit"],
                                                                                        part["treatment"])])
            ax.grid(axis="y", visible=False)
            ax.set_title(f"{outcome}" + (f"  (dashed: \u00b1MCID = {mcid:g})" if np.isfinite(mcid) else ""),
                         loc="left", fontsize=9.5)
            label = f"Difference in mean change ({short_treatment} \u2212 {short_reference})"
            note = favours(better, short_reference, short_treatment)
            ax.set_xlabel(label + ("\n" + note if note else ""), fontsize=8)
            # text column
            tax.set_axis_off()
            tax.set_ylim(ax.get_ylim())
            tax.set_xlim(0, 1)
            tax.text(0.0, len(part) - 0.4, header, fontsize=8, fontweight="bold", va="bottom")
            p_column.append(tax.text(p_x, len(part) - 0.4, "p", fontsize=8, fontweight="bold", va="bottom"))
            for y, r in zip(ypos, part.itertuples()):
                tax.text(0.0, y, _difference_text(r), fontsize=8, va="center")
                p_column.append(tax.text(p_x, y, _p_text(r), fontsize=8, va="center"))
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
        footnote = ""
        if methods:
            footnote = "adj.: adjusted p, " + "; ".join(methods) + (" (at each visit)" if any(
                str(a).endswith(f" at {v}") for a, v in zip(shown["adjustment"], shown["visit"])) else "")
        if multi:
            footnote = "; ".join(t for t in (footnote, _arm_adjustment_note(trial, drawn)) if t)
        if footnote:
            fig.text(0.01, 0.005, footnote, fontsize=7.5, ha="left", va="bottom", color="0.25")
        methods = bool(footnote)
        options = _fit_columns(fig, axes, n_rows, p_column, p_x, diff_w + gap_in, p_w, methods)
        save_figure(fig, path, tight_layout=options)
    return drawn


def _comparison_label(trial: Trial, name: str) -> str:
    """A row label of a comparison: the treatment arm (comparisons with the reference), ``"B vs A"``
    for the other pairs of an all-pairs analysis."""
    comparison = next((c for c in trial.comparisons if c.name == str(name)), None)
    if comparison is None or comparison.reference == trial.reference:
        return shortened(arm_label(name), 22)
    return f"{shortened(arm_label(comparison.treatment), 14)} vs {shortened(arm_label(comparison.reference), 14)}"


def _draw_comparisons(ax, part: pd.DataFrame, ypos: np.ndarray, trial: Trial) -> np.ndarray:
    """The rows of a trial with three or more arms, each in its treatment arm's colour: the
    unadjusted interval (thick) over the interval adjusted across the comparisons (thin, longer
    when adjusted). Returns the finite adjusted bounds (for the axis limits)."""
    colours = arm_colours(trial.arms)
    arm_of = {c.name: c.treatment for c in trial.comparisons}
    bounds = []
    for y, r in zip(ypos, part.itertuples()):
        colour = colours.get(arm_of.get(str(r.treatment), ""), "0.15")
        if np.isfinite(r.ci_lower_adjusted) and np.isfinite(r.ci_upper_adjusted):
            ax.hlines([y], [r.ci_lower_adjusted], [r.ci_upper_adjusted], color=colour, linewidth=0.9, zorder=2)
            bounds += [r.ci_lower_adjusted, r.ci_upper_adjusted]
        if np.isfinite(r.ci_lower) and np.isfinite(r.ci_upper):
            ax.hlines([y], [r.ci_lower], [r.ci_upper], color=colour, linewidth=2.4, zorder=2)
        ax.plot([r.estimate], [y], marker="s", linestyle="none", color=colour, markersize=6, zorder=3)
    return np.asarray(bounds, dtype=float)


def _arm_adjustment_note(trial: Trial, drawn: pd.DataFrame) -> str:
    """The footnote of a forest plot with three or more arms: what the thin lines are."""
    if not np.isfinite(drawn["ci_lower_adjusted"].to_numpy(dtype=float)).any():
        return ""
    how = {"dunnett": "Dunnett-adjusted (multivariate t)", "holm": "Holm-adjusted",
           "none": "unadjusted"}.get(trial.arm_adjustment, trial.arm_adjustment)
    return f"thin lines: {how} {level_pct(trial.alpha)} CI across the comparisons at each visit"


def _fit_columns(fig, axes, n_rows: list[int], p_column: list, p_x: float, p_start_in: float, p_width_in: float,
                 footnote: bool) -> dict:
    """Lay the forest plot out so that every row has room and the p column fits beside the
    differences; returns the layout options for :func:`save_figure`.

    After a trial layout: a panel lower than :data:`_MIN_ROW` inches per row makes the figure
    taller (long titles or labels took the room); a p column that would start within
    ``p_start_in`` inches of the differences moves right; a text column too narrow for the
    differences and the p values gets a larger share of the width. When nothing had to change,
    the trial layout is undone, so that the figure is laid out once, by :func:`save_figure`.
    """
    sp = fig.subplotpars
    before = {"left": sp.left, "right": sp.right, "bottom": sp.bottom, "top": sp.top, "wspace": sp.wspace,
              "hspace": sp.hspace}

    def options() -> dict:
        return {"h_pad": 0.6, "rect": (0, 0.35 / fig.get_figheight() if footnote else 0.0, 1, 1)}

    changed = False
    for _ in range(4):
        fig.tight_layout(**options())
        width, height = fig.get_size_inches()
        short = [max(0.0, n * _MIN_ROW - axes[k][0].get_position().height * height) for k, n in enumerate(n_rows)]
        if sum(short) > 0.01:
            fig.set_size_inches(width, height + 1.15 * sum(short) + 0.1)
            changed = True
            continue
        x, room = _p_position(fig, axes, p_x, p_start_in)
        if x * axes[0][1].get_position().width * width + p_width_in > room - 0.05:
            grid = axes[0][1].get_gridspec()
            ratios = list(grid.get_width_ratios())
            ratios[1] *= (x * axes[0][1].get_position().width * width + p_width_in + 0.1) / room
            grid.set_width_ratios(ratios)
            changed = True
            continue
        break
    if changed:
        fig.tight_layout(**options())
    x, _ = _p_position(fig, axes, p_x, p_start_in)
    if x != p_x:  # at a fixed distance from the differences, whatever width the column gets later
        for text in p_column:
            ax = text.axes
            shifted = transforms.offset_copy(ax.transAxes, fig=fig, x=p_start_in * 72.0, y=0.0, units="points")
            text.set_transform(transforms.blended_transform_factory(shifted, ax.transData))
            text.set_x(0.0)
    if not changed:
        fig.subplots_adjust(**before)
    return options()
