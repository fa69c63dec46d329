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
from matplotlib.collections import PatchCollection

from pilottrial.config.trial import Trial
from pilottrial.report.figures.common import arm_order, efficacy_names, outcome_rows, visit_order
from pilottrial.report.figures.labels import at_visit, level_pct, shortened
from pilottrial.report.figures.layout import placeholder_figure, wrap_to_width
from pilottrial.report.figures.limits import MISSING_PATTERN_PATTERNS, MISSING_PATTERN_ROWS
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, MISSING_GREY, arm_colours, theme
from pilottrial.report.format import arm_label, not_estimable_reason, not_estimable_text

__all__ = ["plot_missing_pattern", "plot_tipping"]


def _pattern_order(observed: pd.DataFrame, order: list[str], arms: list[str]) -> pd.DataFrame:
    """Rows sorted by arm, then last observed visit (latest first), then visits observed, then code
    (as a number when every code is one: 2 before 10)."""
    grid = observed[order].to_numpy(dtype=bool)
    ranks = np.array([max([i for i, ok in enumerate(r) if ok], default=-1) for r in grid])
    codes = observed["participant"].astype(str)
    numeric = codes.str.fullmatch(r"\d{1,15}").all() and len(codes) > 0
    keys = observed.assign(_last=-ranks, _nobs=-grid.sum(axis=1),
                           _arm=observed["arm"].map({a: i for i, a in enumerate(arms)}),
                           _code=codes.astype("int64") if numeric else codes)
    keys = keys.sort_values(["_arm", "_last", "_nobs", "_code", "participant"], kind="mergesort")
    return keys.drop(columns=["_last", "_nobs", "_arm", "_code"]).reset_index(drop=True)


def _patterns(observed: pd.DataFrame, order: list[str], arms: list[str]) -> pd.DataFrame:
    """Identical patterns of one arm combined: ``arm``, the visits, ``participants`` (the count).

    Per arm the :data:`~pilottrial.report.figures.limits.MISSING_PATTERN_PATTERNS` - 1 most
    frequent patterns are kept (in staircase order); any others are combined in a last row whose
    cells are the share observed and whose ``pattern`` is ``"other"``.
    """
    rows = []
    for arm in arms:
        part = observed.loc[observed["arm"] == arm]
        if part.empty:
            continue
        counts = part.groupby(order, sort=False).size().rename("participants").reset_index()
        counts.insert(0, "arm", arm)
        counts["participant"] = ""
        counts = _pattern_order(counts, order, arms)
        counts["pattern"] = "observed"
        if len(counts) > MISSING_PATTERN_PATTERNS:
            top = counts.sort_values("participants", ascending=False, kind="mergesort").index[
                : MISSING_PATTERN_PATTERNS - 1]
            kept = counts.loc[counts.index.isin(top)]
            rest = counts.loc[~counts.index.isin(top)]
            share = (rest[order].astype(float).mul(rest["participants"], axis=0).sum() / rest["participants"].sum())
            other = {"arm": arm, **share.to_dict(), "participants": int(rest["participants"].sum()),
                     "participant": "", "pattern": "other"}
            counts = pd.concat([kept, pd.DataFrame([other])], ignore_index=True)
        rows.append(counts)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["arm", *order, "participants"])
    return out[["arm", *order, "participants", "pattern"]]


def plot_missing_pattern(analysis: pd.DataFrame, config: dict, path: str | PathLike,
                         outcome: str | None = None) -> pd.DataFrame:
    """Grid of participants x visits, observed or missing, grouped by arm.

    One panel per arm (height proportional to its rows); a filled cell in the arm's colour is
    an observed score, a light grey cell with a cross a missing one. Within an arm, rows are
    sorted by their last observed visit (dropouts at the bottom), then by the number of visits
    observed and by code, so monotone dropout shows as a staircase. Tick labels give
    ``observed/randomized`` per visit.

    Up to :data:`~pilottrial.report.figures.limits.MISSING_PATTERN_ROWS` participants each
    have a row labelled with their code. A larger trial is drawn by pattern: participants with
    the same observed and missing visits share a row labelled with their count (and share of
    the arm), at most :data:`~pilottrial.report.figures.limits.MISSING_PATTERN_PATTERNS` rows
    per arm (the rarest patterns combined in a last row shaded by the share observed); the
    title says so.

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
        Per participant (up to the limit): one row per participant in the order drawn,
        ``participant, arm`` and one boolean column per visit (True = observed). By pattern:
        one row per pattern drawn, ``arm``, one column per visit (True/False, or the share
        observed in the combined row), ``participants`` and ``pattern`` (``"observed"`` or
        ``"other"``).
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
    observed = _pattern_order(observed, order, arms)
    by_pattern = len(observed) > MISSING_PATTERN_ROWS
    drawn = _patterns(observed, order, arms) if by_pattern else observed
    sizes = [max(int((drawn["arm"] == a).sum()), 1) for a in arms]
    n_arm = {a: int((observed["arm"] == a).sum()) for a in arms}
    row_h = 0.17 if not by_pattern else 0.2
    fig_w = max(6.0, 1.6 + 0.55 * len(order))
    fig_h = 1.1 + row_h * sum(sizes) + 0.75 * len(arms)

    with theme("white", "report"):
        fig, axes = plt.subplots(len(arms), 1, figsize=(fig_w, fig_h), dpi=DPI, squeeze=False,
                                 gridspec_kw={"height_ratios": sizes})
        for ax, arm in zip(axes[:, 0], arms):
            part = drawn.loc[drawn["arm"] == arm].reset_index(drop=True)
            grid = part[order].to_numpy(dtype=float) if len(part) else np.zeros((0, len(order)))
            other = (part["pattern"] == "other").to_numpy() if by_pattern else np.zeros(len(part), dtype=bool)
            for r in np.flatnonzero(other):  # the combined rare patterns: shaded by the share observed
                for c in range(grid.shape[1]):
                    ax.add_patch(patches.Rectangle((c - 0.45, r - 0.4), 0.9, 0.8, facecolor=MISSING_GREY,
                                                   edgecolor="white", linewidth=0.5))
                    ax.add_patch(patches.Rectangle((c - 0.45, r - 0.4), 0.9 * grid[r, c], 0.8,
                                                   facecolor=colours[arm], alpha=0.55, edgecolor="none"))
                    ax.text(c, r, f"{100 * grid[r, c]:.0f}%", ha="center", va="center", fontsize=6.5, color="0.1")
            # every other cell: one collection of rectangles and one line of crosses (one artist
            # each, not one per cell: a large grid draws in a fraction of the time)
            cells = [(r, c) for r in np.flatnonzero(~other) for c in range(grid.shape[1])]
            ok = np.array([grid[r, c] > 0.5 for r, c in cells], dtype=bool)
            if cells:
                ax.add_collection(PatchCollection(
                    [patches.Rectangle((c - 0.45, r - 0.4), 0.9, 0.8) for r, c in cells],
                    facecolors=[colours[arm] if o else MISSING_GREY for o in ok], edgecolors="white",
                    linewidths=0.5, match_original=False))
            if (~ok).any():
                ax.plot([c for (r, c), o in zip(cells, ok) if not o], [r for (r, c), o in zip(cells, ok) if not o],
                        linestyle="none", marker="x", color="0.45", markersize=4, markeredgewidth=1.0)
            ax.set_xlim(-0.5, len(order) - 0.5)
            ax.set_ylim(max(len(part), 1) - 0.5, -0.5)
            ax.set_yticks(range(len(part)))
            if by_pattern:
                total = max(n_arm[arm], 1)
                ax.set_yticklabels([(f"other patterns: n = {int(k)}" if o else f"n = {int(k)} ({100 * k / total:.0f}%)")
                                    for k, o in zip(part["participants"], other)], fontsize=6.5)
            else:
                ax.set_yticklabels(part["participant"], fontsize=6.5)
            ax.set_xticks(range(len(order)))
            members = observed.loc[observed["arm"] == arm, order].to_numpy(dtype=bool)
            counts = members.sum(axis=0) if len(members) else np.zeros(len(order), dtype=int)
            ax.set_xticklabels([f"{v}\n{int(n)}/{n_arm[arm]}" for v, n in zip(order, counts)], fontsize=7.5)
            ax.tick_params(length=0)
            for side in ("top", "right", "left", "bottom"):
                ax.spines[side].set_visible(False)
            complete = int(members.all(axis=1).sum()) if len(members) else 0
            title = f"{arm_label(arm)} (n = {n_arm[arm]}; {complete} with every visit"
            title += f"; {len(part)} patterns)" if by_pattern else ")"
            ax.set_title(title, color=colours[arm], fontweight="bold", fontsize=9, loc="left")
        handles = [patches.Patch(facecolor="0.5", label="observed (arm colour)"),
                   patches.Patch(facecolor=MISSING_GREY, label="missing")]
        fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
        if by_pattern:
            fig.suptitle(f"{outcome}: observed and missing assessments, participants with the same pattern "
                         f"in one row", fontsize=10)
        else:
            fig.suptitle(f"{outcome}: observed and missing assessments by participant", fontsize=10)
        save_figure(fig, path, tight_layout={"rect": (0, 0.03, 1, 1)})
    return drawn


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
    if trial.is_multi_arm:
        return _plot_tipping_by_arm(tipping, trial, path)
    alpha = trial.alpha
    reference, treatment = trial.reference, trial.treatment
    colour = arm_colours(trial.arms)[treatment]
    table = tipping.copy()
    table["outcome"] = table["outcome"].astype(str)
    known = {o: i for i, o in enumerate(efficacy_names(trial))}
    outcomes = sorted(set(table["outcome"]), key=lambda o: (known.get(o, len(known)), o))
    columns = ["outcome", "visit", "conclusion_at_zero", "tipping_delta", "conclusion_after", "delta_max"]
    if not outcomes:
        placeholder_figure(path, "Tipping-point analysis", "Nothing to draw: the tipping-point table is empty.")
        return pd.DataFrame(columns=columns)
    summary = []
    n = len(outcomes)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    with theme("whitegrid", "report"):
        fig, grid = plt.subplots(nrows, ncols, figsize=(min(8.0, 1.2 + 2.9 * ncols) if n > 1 else 4.6,
                                                        3.9 + 3.4 * (nrows - 1)), dpi=DPI, squeeze=False)
        axes = [list(grid.ravel())]
        for ax in axes[0][n:]:
            ax.set_visible(False)
        for ax, outcome in zip(axes[0], outcomes):
            part = table.loc[table["outcome"] == outcome].sort_values("delta", kind="mergesort")
            summary.append(_tipping_panel(fig, ax, outcome, part, colour))
        for row in grid:
            row[0].set_ylabel(f"Difference {shortened(arm_label(treatment), 24)} \u2212 "
                              f"{shortened(arm_label(reference), 24)}\n({level_pct(alpha)} CI, MI)")
        fig.suptitle("Tipping-point analysis (delta-adjusted multiple imputation; "
                     "filled: CI excludes 0)", fontsize=10)
        fig.supxlabel("\u03b4: shift added to every imputed value of the treatment arm, in the unfavourable "
                      "direction (outcome units)", fontsize=8)
        save_figure(fig, path)
    return pd.DataFrame(summary, columns=columns)


def _plot_tipping_by_arm(tipping: pd.DataFrame, trial: Trial, path: str | PathLike) -> pd.DataFrame:
    """:func:`plot_tipping` of a trial with three or more arms: a row of panels per treatment arm
    (the comparisons named in the table's ``treatment`` column, in the trial's order), a column
    per outcome, each line in its treatment arm's colour. Returns the summary with ``treatment``."""
    alpha = trial.alpha
    colours = arm_colours(trial.arms)
    table = tipping.copy()
    table["outcome"] = table["outcome"].astype(str)
    columns = ["outcome", "visit", "conclusion_at_zero", "tipping_delta", "conclusion_after", "delta_max",
               "treatment"]
    if "treatment" not in table or table.empty:
        placeholder_figure(path, "Tipping-point analysis", "Nothing to draw: the tipping-point table is empty.")
        return pd.DataFrame(columns=columns)
    table["treatment"] = table["treatment"].astype(str)
    known = {o: i for i, o in enumerate(efficacy_names(trial))}
    outcomes = sorted(set(table["outcome"]), key=lambda o: (known.get(o, len(known)), o))
    comparisons = [c for c in trial.comparisons if c.name in set(table["treatment"])]
    if not outcomes or not comparisons:
        placeholder_figure(path, "Tipping-point analysis", "Nothing to draw: the tipping-point table is empty.")
        return pd.DataFrame(columns=columns)
    ncols, nrows = len(outcomes), len(comparisons)
    summary = []
    with theme("whitegrid", "report"):
        fig, grid = plt.subplots(nrows, ncols, figsize=(min(11.0, 1.2 + 2.9 * ncols) if ncols > 1 else 4.6,
                                                        0.5 + 3.4 * nrows), dpi=DPI, squeeze=False)
        for i, comparison in enumerate(comparisons):
            for j, outcome in enumerate(outcomes):
                ax = grid[i][j]
                part = table.loc[(table["outcome"] == outcome) & (table["treatment"] == comparison.name)]
                if part.empty:
                    ax.set_visible(False)
                    continue
                part = part.sort_values("delta", kind="mergesort")
                row = _tipping_panel(fig, ax, outcome, part, colours.get(comparison.treatment, "0.3"))
                summary.append({**row, "treatment": comparison.name})
            grid[i][0].set_ylabel(f"{shortened(arm_label(comparison.treatment), 24)} \u2212 "
                                  f"{shortened(arm_label(comparison.reference), 24)}\n({level_pct(alpha)} CI, MI)",
                                  color=colours.get(comparison.treatment, "0.15"))
        fig.suptitle("Tipping-point analysis by treatment arm (delta-adjusted multiple imputation; "
                     "filled: CI excludes 0)", fontsize=10)
        fig.supxlabel("\u03b4: shift added to every imputed value of the treatment arm of the row, in the "
                      "unfavourable direction (outcome units)", fontsize=8)
        save_figure(fig, path)
    return pd.DataFrame(summary, columns=columns)


def _tipping_panel(fig, ax, outcome: str, part: pd.DataFrame, colour: str) -> dict:
    """One panel of the tipping-point figure (rows of one outcome, sorted by delta); its summary row."""
    d = pd.to_numeric(part["delta"], errors="coerce").to_numpy(dtype=float)
    est = pd.to_numeric(part["estimate"], errors="coerce").to_numpy(dtype=float)
    lo = pd.to_numeric(part["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(part["ci_upper"], errors="coerce").to_numpy(dtype=float)
    visit = str(part["visit"].iloc[0]) if "visit" in part else ""
    if not np.isfinite(est).any():  # not estimable: say so in the panel
        reasons = [not_estimable_reason(r) for _, r in part.iterrows()]
        reason = next((r for r in reasons if r), None)
        ax.set_title(f"{outcome} at {at_visit(visit)}", fontsize=9.5, fontweight="bold", pad=24)
        ax.text(0.5, 0.5, wrap_to_width(fig, not_estimable_text(reason), ax.bbox.width * 0.9 or 200, 8),
                transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.3")
        ax.set_xticks([])
        ax.set_yticks([])
        return {"outcome": outcome, "visit": visit, "conclusion_at_zero": "not estimable",
                "tipping_delta": np.nan, "conclusion_after": "", "delta_max": np.nan}
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
    ax.set_title(f"{outcome} at {at_visit(visit)}", fontsize=9.5, fontweight="bold", pad=24)
    ax.text(0.5, 1.015, note, transform=ax.transAxes, ha="center", va="bottom", fontsize=7.5,
            color="0.2")
    return {"outcome": outcome, "visit": visit, "conclusion_at_zero": str(conclusion[0]),
            "tipping_delta": tip, "conclusion_after": after, "delta_max": float(d.max())}
