r"""Figures and Table 1 that a journal reviewer or a data monitoring committee expects.

Every ``plot_*`` function takes tidy tables of the pipeline and the trial config (a plain
dict), writes the figure twice -- ``path`` as PNG and the same figure as SVG beside it
(``Path(path).with_suffix(".svg")``) -- and returns what it drew (a tidy table, or for the
CONSORT diagram a dict of counts), so that a test or a report can check the numbers.

* :func:`plot_consort` -- CONSORT flow diagram from the trial data and the screening log;
* :func:`plot_mean_score` -- mean score (t interval) by arm at every visit;
* :func:`plot_forest` -- MMRM treatment differences at the key visits with the MCID marked,
  optionally next to standardized effect sizes;
* :func:`plot_waterfall` -- percent change from baseline per participant;
* :func:`plot_responders` -- responder and remission proportions with Wilson intervals;
* :func:`plot_missing_pattern` -- observed and missing assessments, participant x visit;
* :func:`plot_tipping` -- the delta-adjusted tipping-point analysis;
* :func:`plot_residuals` -- MMRM residual diagnostics (Cholesky residuals);
* :func:`table_one` -- baseline characteristics by arm with standardized mean differences.

The files are byte-stable: the Agg backend, fixed sizes and dpi, no software or date
metadata (PNG ``Software``, SVG ``Date`` and ``Creator`` dropped), a fixed SVG hash salt,
nothing random; styling only through ``seaborn.axes_style`` and ``matplotlib.rc_context``,
and every figure is closed, so no matplotlib state leaks between calls. Each arm has one
Okabe-Ito colour, the same as in :mod:`pilottrial.report.figures.outcomes` (:func:`~pilottrial.report.figures.outcomes.arm_colours`).

Suggested file names under ``results/<trial>/``: ``figures/consort.png``,
``figures/<outcome>_mean_score.png``, ``figures/forest.png``,
``figures/<outcome>_waterfall.png``, ``figures/responders.png``,
``figures/<outcome>_missing_pattern.png``, ``figures/tipping_point.png``,
``figures/<outcome>_residuals.png`` (each with its ``.svg``) and ``tables/table_one.csv``
(``<outcome>`` is :func:`pilottrial.registry.outcome_slug`).

References
----------
Schulz KF, Altman DG, Moher D. CONSORT 2010 statement: updated guidelines for reporting
parallel group randomised trials. BMJ 2010;340:c332.

Eldridge SM, Chan CL, Campbell MJ, et al. CONSORT 2010 statement: extension to randomised
pilot and feasibility trials. BMJ 2016;355:i5239.
"""

from __future__ import annotations

import math
import textwrap
from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import patches  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from scipy import linalg, stats  # noqa: E402

from pilottrial.models.primary import fit_outcome_mmrm, model_frame  # noqa: E402
from pilottrial.analyses.feasibility import wilson_interval  # noqa: E402
from pilottrial.report.figures.outcomes import mean_ci, OKABE_ITO, arm_colours  # noqa: E402

__all__ = [
    "plot_consort",
    "plot_mean_score",
    "plot_forest",
    "plot_waterfall",
    "plot_responders",
    "plot_missing_pattern",
    "plot_tipping",
    "plot_residuals",
    "table_one",
    "standardized_mean_difference",
    "svg_path",
]

_DPI = 150
_STYLE = "whitegrid"
_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "svg.hashsalt": "pilottrial",
    "svg.fonttype": "path",
}
_GREY = "0.35"
_WATERFALL_CAP = 200.0
_MISSING_GREY = "#D9D9D9"
_MINUS = "\u2212"
_STRUCTURES = {"us": "unstructured", "cs": "compound symmetry", "csh": "heterogeneous compound symmetry",
               "ar1": "AR(1)", "ar1h": "heterogeneous AR(1)", "toep": "Toeplitz", "toeph": "heterogeneous Toeplitz",
               "ad": "ante-dependence", "adh": "heterogeneous ante-dependence"}


# --------------------------------------------------------------------------- helpers


def svg_path(path: str | PathLike) -> Path:
    """The SVG written next to a PNG: ``Path(path).with_suffix(".svg")``."""
    return Path(path).with_suffix(".svg")


def _save(fig: plt.Figure, path: str | PathLike) -> None:
    """Write the PNG at ``path`` and the SVG beside it, without volatile metadata."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=_DPI, metadata={"Software": None})
    with plt.rc_context({"svg.hashsalt": "pilottrial"}):
        fig.savefig(svg_path(out), format="svg", dpi=_DPI, metadata={"Date": None, "Creator": None})


def _arms(config: dict, analysis: pd.DataFrame | None = None) -> list[str]:
    """Reference arm, treatment arm, then any other arm present (sorted)."""
    arms_cfg = config.get("arms", {}) or {}
    ordered = [str(arms_cfg[k]) for k in ("reference", "treatment") if arms_cfg.get(k) is not None]
    if analysis is not None and "arm" in analysis:
        present = sorted({str(a) for a in analysis["arm"].dropna().unique()})
        ordered += [a for a in present if a not in ordered]
    return ordered


def _visits(config: dict, analysis: pd.DataFrame | None = None) -> list[str]:
    order = [str(v) for v in (config.get("visits", {}) or {}).get("order", []) or []]
    if order or analysis is None:
        return order
    return sorted({str(v) for v in analysis["visit"].dropna().unique()})


def _baseline(config: dict) -> str | None:
    visits = config.get("visits", {}) or {}
    if visits.get("baseline") is not None:
        return str(visits["baseline"])
    return None


def _outcome_config(config: dict, outcome: str) -> dict:
    for oc in config.get("outcomes", []) or []:
        if str(oc.get("name")) == str(outcome):
            return oc
    return {}


def _efficacy(config: dict) -> list[str]:
    """Efficacy outcomes in config order, the primary first."""
    outcomes = [o for o in config.get("outcomes", []) or [] if o.get("role", "efficacy") == "efficacy"]
    outcomes.sort(key=lambda o: 0 if o.get("primary") else 1)
    return [str(o["name"]) for o in outcomes]


def _primary(config: dict) -> str:
    outcomes = config.get("outcomes", []) or []
    for o in outcomes:
        if o.get("primary"):
            return str(o["name"])
    efficacy = _efficacy(config)
    if efficacy:
        return efficacy[0]
    if outcomes:
        return str(outcomes[0]["name"])
    raise ValueError("the config names no outcome")


def _alpha(config: dict) -> float:
    return float((config.get("analysis", {}) or {}).get("alpha", 0.05))


def _level_pct(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _num(value: float, decimals: int = 1) -> str:
    """A number with a typographic minus sign; ``"NA"`` when not finite."""
    if value is None or not np.isfinite(value):
        return "NA"
    text = f"{value:.{decimals}f}"
    if text.lstrip("-").strip("0.") == "":  # -0.0 -> 0.0
        text = text.lstrip("-")
    return text.replace("-", _MINUS)


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "NA"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def _better_suffix(better: str | None) -> str:
    return f" ({better} is better)" if better in ("lower", "higher") else ""


def _outcome_rows(analysis: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Rows of one outcome with string keys and numeric scores."""
    rows = analysis.loc[analysis["outcome"].astype(str) == str(outcome)].copy()
    if rows.empty:
        raise ValueError(f"outcome {outcome!r} not found in the analysis table")
    for column in ("participant", "arm", "visit"):
        rows[column] = rows[column].astype(str)
    for column in ("baseline", "score", "change"):
        if column in rows:
            rows[column] = pd.to_numeric(rows[column], errors="coerce")
    return rows


def _favours(better: str | None, reference: str, treatment: str) -> str:
    """Axis note on which side of a treatment - reference difference favours which arm."""
    if better == "lower":
        return f"\u2190 favours {treatment}    favours {reference} \u2192"
    if better == "higher":
        return f"\u2190 favours {reference}    favours {treatment} \u2192"
    return ""


def _participants(analysis: pd.DataFrame) -> pd.DataFrame:
    people = analysis[["participant", "arm"]].drop_duplicates("participant").copy()
    people["participant"] = people["participant"].astype(str)
    people["arm"] = people["arm"].astype(str)
    return people.sort_values("participant", kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- 1. CONSORT


def _consort_counts(analysis: pd.DataFrame, config: dict, screening: pd.DataFrame | None) -> dict:
    arms = _arms(config, analysis)
    order = _visits(config, analysis)
    baseline = _baseline(config)
    post = [v for v in order if v != baseline] if baseline is not None else order[1:]
    people = _participants(analysis)
    scores = analysis.loc[pd.to_numeric(analysis["score"], errors="coerce").notna(), ["participant", "visit"]]
    seen = {v: set(scores.loc[scores["visit"].astype(str) == v, "participant"].astype(str)) for v in order}
    primary = _primary(config)
    try:
        analysed = set(model_frame(analysis, primary, config)["participant"].astype(str))
    except (KeyError, ValueError):  # no usable primary outcome: nobody analysed
        analysed = set()

    counts: dict = {"screened": None, "eligible": None, "not_eligible": None,
                    "eligible_not_randomized": None, "excluded": None, "randomized_log": None,
                    "not_eligible_reasons": {}, "not_randomized_reasons": {},
                    "screening_source": None}
    if screening is not None:
        eligible = screening["eligible"].astype(str).str.strip().str.lower().isin({"yes", "y", "true", "1"})
        randomized = screening["randomized"].astype(str).str.strip().str.lower().isin({"yes", "y", "true", "1"})
        reason = screening["reason"] if "reason" in screening else pd.Series(np.nan, index=screening.index)
        reason = reason.astype(object).where(reason.notna(), "reason not recorded").astype(str).str.strip()
        reason = reason.where(reason != "", "reason not recorded")

        def tally(mask):
            table = reason[mask].value_counts()
            items = sorted(table.items(), key=lambda kv: (-int(kv[1]), kv[0]))
            return {k: int(v) for k, v in items}

        counts.update(screened=int(len(screening)), eligible=int(eligible.sum()),
                      not_eligible=int((~eligible).sum()),
                      eligible_not_randomized=int((eligible & ~randomized).sum()),
                      excluded=int((~randomized).sum()), randomized_log=int(randomized.sum()),
                      not_eligible_reasons=tally(~eligible), not_randomized_reasons=tally(eligible & ~randomized),
                      screening_source="screening log")
    else:
        given = (config.get("feasibility") or {}).get("counts") or {}
        if given.get("screened") is not None:
            screened = int(given["screened"])
            eligible_n = int(given["eligible"]) if given.get("eligible") is not None else None
            counts.update(screened=screened, eligible=eligible_n, screening_source="feasibility.counts",
                          excluded=screened - len(people))
            if eligible_n is not None:
                counts.update(not_eligible=screened - eligible_n,
                              eligible_not_randomized=eligible_n - len(people))
    counts["randomized"] = int(len(people))
    counts["primary_outcome"] = primary
    counts["arms"] = {}
    for arm in arms:
        members = set(people.loc[people["arm"] == arm, "participant"])
        received = members & seen.get(baseline, members) if baseline is not None else members
        follow = {}
        lost_before = 0
        for j, visit in enumerate(post):
            later = set().union(*[seen.get(u, set()) for u in post[j + 1:]]) if j + 1 < len(post) else set()
            assessed = members & seen.get(visit, set())
            absent = members - assessed
            lost = absent - later
            follow[visit] = {"assessed": len(assessed), "not_assessed": len(absent), "lost": len(lost),
                             "newly_lost": len(lost) - lost_before, "missed": len(absent) - len(lost)}
            lost_before = len(lost)
        counts["arms"][arm] = {"allocated": len(members), "received": len(received),
                               "not_received": len(members) - len(received), "follow_up": follow,
                               "analysed": len(members & analysed),
                               "not_analysed": len(members) - len(members & analysed)}
    return counts


class _Canvas:
    """An axes in inch coordinates on which boxes of text lines are laid out."""

    def __init__(self, ax, fontsize: float):
        self.ax = ax
        self.fs = fontsize
        self.line = fontsize * 1.45 / 72.0
        self.pad = 0.08

    def height(self, lines: list) -> float:
        return len(lines) * self.line + 2 * self.pad

    def box(self, x0, y_top, width, lines, edge="0.2", align="center", face="white", lw=1.0):
        """Draw a box whose top edge is at ``y_top``; ``lines`` are ``(text, bold, indent)``."""
        h = self.height(lines)
        self.ax.add_patch(patches.FancyBboxPatch(
            (x0, y_top - h), width, h, boxstyle="round,pad=0,rounding_size=0.04",
            facecolor=face, edgecolor=edge, linewidth=lw, zorder=2))
        for i, (text, bold, indent) in enumerate(lines):
            y = y_top - self.pad - (i + 0.5) * self.line
            if align == "center":
                self.ax.text(x0 + width / 2, y, text, ha="center", va="center", fontsize=self.fs,
                             fontweight="bold" if bold else "normal", zorder=3)
            else:
                self.ax.text(x0 + self.pad + 0.14 * indent, y, text, ha="left", va="center", fontsize=self.fs,
                             fontweight="bold" if bold else "normal", zorder=3)
        return h

    def arrow(self, x0, y0, x1, y1):
        self.ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=1,
                         arrowprops=dict(arrowstyle="-|>", color="0.2", lw=1.0, shrinkA=0, shrinkB=0,
                                         mutation_scale=9))

    def line_(self, xs, ys):
        self.ax.plot(xs, ys, color="0.2", linewidth=1.0, zorder=1, solid_capstyle="butt")


def _wrap(text: str, width_in: float, fontsize: float, indent: int = 0) -> list[str]:
    chars = max(12, int(width_in * 72.0 / (0.56 * fontsize)) - 3 * indent)
    return textwrap.wrap(text, chars) or [""]


def plot_consort(analysis: pd.DataFrame, config: dict, screening: pd.DataFrame | None,
                 path: str | PathLike) -> dict:
    """Draw the CONSORT flow diagram of a two-arm (or multi-arm) pilot trial.

    Boxes, from top to bottom: *assessed for eligibility* (people in the screening log) with
    the *excluded* box beside it (not eligible and eligible but not randomized, each with its
    reasons counted from the log's ``reason`` column); *randomized* (participants in the
    trial data); per arm *allocated*, with *received the allocated intervention*; per arm and
    post-baseline visit the *follow-up* (assessed, lost to follow-up, missed the visit but
    seen later); per arm *analysed* in the primary MMRM. Stage labels (Enrollment,
    Allocation, Follow-up, Analysis) run down the left margin.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table (``participant, arm, visit, outcome, baseline, score, change``).
    config : dict
        Validated trial config (arms, visits, outcomes, analysis, optional
        ``feasibility.counts``).
    screening : pandas.DataFrame or None
        Screening log as returned by :func:`pilottrial.analyses.feasibility.read_screening_log`
        (``eligible``, ``randomized``, optional ``reason``). Without it the enrollment box
        comes from ``feasibility.counts`` (screened, eligible; no reasons) when configured,
        and is left out otherwise (the diagram starts at *randomized*).
    path : str or path-like
        PNG path; the SVG is written beside it.

    Returns
    -------
    dict
        The counts drawn: ``screened``, ``eligible``, ``not_eligible``,
        ``eligible_not_randomized``, ``excluded`` (screened and not randomized),
        ``randomized_log``, ``not_eligible_reasons`` and ``not_randomized_reasons``
        (reason -> n, most frequent first), ``screening_source``; ``randomized`` (from the
        trial data), ``primary_outcome``, and ``arms``: arm -> ``allocated``, ``received``,
        ``not_received``, ``follow_up`` (visit -> ``assessed``, ``not_assessed``, ``lost``,
        ``newly_lost``, ``missed``), ``analysed``, ``not_analysed``. Screening entries are ``None`` when
        there is no screening information.

    Notes
    -----
    *Received*: participants with any baseline score (there is no dosing record; the same
    assumption as :func:`pilottrial.analyses.feasibility.feasibility_table`). *Assessed* at a visit:
    participants with any score (any outcome) there, as the feasibility table's retention.
    *Lost to follow-up* at a visit: not assessed there nor at any later visit (cumulative;
    ``newly_lost`` counts those still assessed at the previous visit); *missed*: not
    assessed there but seen later, so ``assessed + lost + missed = allocated``. *Analysed*:
    participants contributing at least one post-baseline observation to the MMRM of the
    primary outcome (its model frame). When the log counts a different number randomized
    than the trial data, both are shown.
    """
    counts = _consort_counts(analysis, config, screening)
    arms = list(counts["arms"])
    colours = arm_colours(arms)
    fs = 8.5
    width = 7.6
    left, right = 0.62, width - 0.12
    main_w = right - left
    n_arms = max(len(arms), 1)
    gap_x = 0.25
    col_w = (main_w - gap_x * (n_arms - 1)) / n_arms
    col_x = [left + i * (col_w + gap_x) for i in range(n_arms)]
    centre = left + main_w / 2
    top_w = min(3.0, main_w * 0.42)
    excl_x = centre + 0.35
    excl_w = right - excl_x
    vgap = 0.28

    with sns.axes_style("white"), plt.rc_context(_RC):
        fig = plt.figure(figsize=(width, 10.0), dpi=_DPI)  # height set below
        ax = fig.add_axes((0, 0, 1, 1))
        canvas = _Canvas(ax, fs)

        # ---- content of the boxes (lines are (text, bold, indent))
        have_screening = counts["screened"] is not None
        assessed_lines = [(f"Assessed for eligibility (n = {counts['screened']})", True, 0)] if have_screening else []
        excl_lines: list = []
        if have_screening and counts["excluded"] is not None:
            excl_lines.append((f"Excluded (n = {counts['excluded']})", True, 0))
            if counts["not_eligible"] is not None:
                excl_lines.append((f"\u2022 Not eligible (n = {counts['not_eligible']})", False, 0))
                for reason, n in counts["not_eligible_reasons"].items():
                    for k, part in enumerate(_wrap(f"{reason} (n = {n})", excl_w, fs, 2)):
                        excl_lines.append((part, False, 2 if k == 0 else 3))
            if counts["eligible_not_randomized"] is not None:
                excl_lines.append((f"\u2022 Eligible, not randomized (n = {counts['eligible_not_randomized']})",
                                   False, 0))
                for reason, n in counts["not_randomized_reasons"].items():
                    for k, part in enumerate(_wrap(f"{reason} (n = {n})", excl_w, fs, 2)):
                        excl_lines.append((part, False, 2 if k == 0 else 3))
        rand_lines = [(f"Randomized (n = {counts['randomized']})", True, 0)]
        if counts["randomized_log"] is not None and counts["randomized_log"] != counts["randomized"]:
            rand_lines.append((f"(screening log: {counts['randomized_log']} randomized)", False, 0))
        post = list(next(iter(counts["arms"].values()))["follow_up"]) if arms else []
        alloc = {a: [(f"Allocated to {a} (n = {c['allocated']})", True, 0),
                     (f"Received allocated intervention (n = {c['received']})", False, 1),
                     (f"Did not receive it (n = {c['not_received']})", False, 1)]
                 for a, c in counts["arms"].items()}
        follow = {}
        for a, c in counts["arms"].items():
            follow[a] = []
            for v in post:
                f = c["follow_up"][v]
                lost = f"Lost to follow-up (n = {f['lost']})"
                if 0 < f["newly_lost"] < f["lost"]:
                    lost = f"Lost to follow-up (n = {f['lost']}; {f['newly_lost']} since the last visit)"
                lines = [(f"Follow-up at {v}", True, 0), (f"Assessed (n = {f['assessed']})", False, 1),
                         (lost, False, 1)]
                if f["missed"]:
                    lines.append((f"Missed the visit, seen later (n = {f['missed']})", False, 1))
                follow[a].append(lines)
        n_follow_lines = [max(len(follow[a][j]) for a in arms) for j in range(len(post))]
        primary = counts["primary_outcome"]
        analysed = {a: [(f"Analysed (n = {c['analysed']})", True, 0),
                        (f"MMRM of the primary outcome, {primary}", False, 1),
                        (f"Excluded: no post-baseline {primary} (n = {c['not_analysed']})", False, 1)]
                    for a, c in counts["arms"].items()}

        # ---- vertical layout (inches from the top)
        h_assessed = canvas.height(assessed_lines) if assessed_lines else 0.0
        h_excl = canvas.height(excl_lines) if excl_lines else 0.0
        h_rand = canvas.height(rand_lines)
        h_alloc = canvas.height(max(alloc.values(), key=len)) if arms else 0.0
        h_follow = [canvas.height([None] * n) for n in n_follow_lines]
        h_anal = canvas.height(max(analysed.values(), key=len)) if arms else 0.0
        y = 0.15
        stages = []
        stage_top = y
        y_assessed = y
        if assessed_lines:
            y += h_assessed + max(vgap, h_excl + 2 * 0.18)
        y_rand = y
        y += h_rand
        if assessed_lines:
            stages.append(("Enrollment", stage_top, y))
        y_split = y + 0.22
        y += 0.45
        y_alloc = y
        start = y_split - 0.08 if assessed_lines else y_rand
        stages.append(("Allocation", start, max(y_alloc + h_alloc, start + 1.0)))
        y += h_alloc + vgap
        y_follow = []
        for h in h_follow:
            y_follow.append(y)
            y += h + vgap
        if h_follow:
            stages.append(("Follow-up", y_follow[0], y_follow[-1] + h_follow[-1]))
        y_anal = y
        y += h_anal
        stages.append(("Analysis", y_anal, y))
        height = y + 0.15
        fig.set_size_inches(width, height)
        ax.set_xlim(0, width)
        ax.set_ylim(0, height)
        ax.set_axis_off()

        def top(d):  # inches from the top -> y coordinate
            return height - d

        # ---- enrollment
        if assessed_lines:
            canvas.box(centre - top_w / 2, top(y_assessed), top_w, assessed_lines)
            canvas.arrow(centre, top(y_assessed + h_assessed), centre, top(y_rand))
            if excl_lines:
                y_mid = (y_assessed + h_assessed + y_rand) / 2
                y_excl_top = y_mid - h_excl / 2
                canvas.box(excl_x, top(y_excl_top), excl_w, excl_lines, align="left")
                canvas.arrow(centre, top(y_mid), excl_x, top(y_mid))
        canvas.box(centre - top_w / 2, top(y_rand), top_w, rand_lines)

        # ---- allocation and below, one column per arm
        if arms:
            centres = [x + col_w / 2 for x in col_x]
            canvas.line_([centre, centre], [top(y_rand + h_rand), top(y_split)])
            canvas.line_([min(centres), max(centres)], [top(y_split), top(y_split)])
            for i, arm in enumerate(arms):
                cx, x0, edge = centres[i], col_x[i], colours[arm]
                canvas.arrow(cx, top(y_split), cx, top(y_alloc))
                canvas.box(x0, top(y_alloc), col_w, alloc[arm], edge=edge, align="left", lw=1.6)
                previous = y_alloc + h_alloc
                for j in range(len(post)):
                    canvas.arrow(cx, top(previous), cx, top(y_follow[j]))
                    lines = follow[arm][j] + [("", False, 0)] * (n_follow_lines[j] - len(follow[arm][j]))
                    canvas.box(x0, top(y_follow[j]), col_w, lines, edge=edge, align="left", lw=1.6)
                    previous = y_follow[j] + h_follow[j]
                canvas.arrow(cx, top(previous), cx, top(y_anal))
                canvas.box(x0, top(y_anal), col_w, analysed[arm], edge=edge, align="left", lw=1.6)

        # ---- stage labels in the left margin
        for label, start, end in stages:
            ax.add_patch(patches.FancyBboxPatch(
                (0.12, top(end)), 0.3, end - start, boxstyle="round,pad=0,rounding_size=0.05",
                facecolor="#DCEAF5", edgecolor="#5B8DB8", linewidth=0.8, zorder=2))
            size = min(fs, (end - start - 0.1) * 72.0 / (0.66 * len(label)))
            ax.text(0.27, top((start + end) / 2), label, rotation=90, ha="center", va="center",
                    fontsize=size, fontweight="bold", color="#1F4E79", zorder=3)
        try:
            _save(fig, path)
        finally:
            plt.close(fig)
    return counts


# --------------------------------------------------------------------------- 2. mean score


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
    in :func:`pilottrial.report.figures.outcomes.plot_mean_change`.
    """
    rows = _outcome_rows(analysis, outcome)
    rows = rows.loc[rows["score"].notna()]
    order = [v for v in _visits(config, analysis) if v in set(rows["visit"])]  # visits with data
    rows = rows.loc[rows["visit"].isin(order)]
    arms = _arms(config, analysis)
    colours = arm_colours(arms)
    oc = _outcome_config(config, outcome)
    alpha = _alpha(config)
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

    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.0, 4.6), dpi=_DPI)
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
                    label=f"{arm} (n = {n_arm})")
            if ok.any():
                ax.errorbar(x[ok], mean[ok], yerr=np.vstack([mean[ok] - lo[ok], hi[ok] - mean[ok]]), fmt="none",
                            ecolor=colours[arm], elinewidth=1.5, capsize=4, zorder=2)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order)
        ax.set_xlim(-0.45, len(order) - 0.55)
        ax.set_ylabel(f"{outcome} score{_better_suffix(oc.get('better'))}")
        ax.set_title(f"{outcome}: mean score by arm ({_level_pct(alpha)} CI)")
        for i, arm in enumerate(arms):
            ax.annotate(f"n {arm}", xy=(0, 0), xycoords="axes fraction", xytext=(-6, -20 - 11 * i),
                        textcoords="offset points", ha="right", va="top", fontsize=7.5, color=colours[arm])
            for visit in order:
                n = int(table.loc[(table["arm"] == arm) & (table["visit"] == visit), "n"].iloc[0])
                ax.annotate(str(n), xy=(xpos[visit], 0), xycoords=("data", "axes fraction"),
                            xytext=(0, -20 - 11 * i), textcoords="offset points", ha="center", va="top",
                            fontsize=7.5, color=colours[arm])
        ax.legend(title="Arm", loc="best", frameon=True)
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)
    return table


# --------------------------------------------------------------------------- 3. forest


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
    reference, treatment = str(config["arms"]["reference"]), str(config["arms"]["treatment"])
    alpha = _alpha(config)
    table = contrasts.copy()
    if "model" in table:
        table = table.loc[table["model"].astype(str) == model]
    table["outcome"] = table["outcome"].astype(str)
    table["visit"] = table["visit"].astype(str)
    order = _visits(config)
    baseline = _baseline(config)
    key = [str(v) for v in (config.get("visits", {}) or {}).get("key", []) or []]
    key = key or [v for v in order if v != baseline]
    rows = []
    for outcome in _efficacy(config):
        part = table.loc[table["outcome"] == outcome]
        if part.empty:
            continue
        visits = [v for v in key if v in set(part["visit"])]
        visits = visits or [v for v in order if v in set(part["visit"])] or sorted(set(part["visit"]))
        mcid = _outcome_config(config, outcome).get("mcid")
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
    diff_text = [f"{_num(a)} ({_num(b)} to {_num(c)})" for a, b, c in
                 zip(drawn["estimate"], drawn["ci_lower"], drawn["ci_upper"])]
    text_width_in = 7.4 * ratios[1] / sum(ratios)
    p_x = min(0.78, (max(len(t) for t in diff_text) + 2) * 0.58 * 8 / 72 / text_width_in)
    if with_g:
        g_vals = drawn[["g", "g_lower", "g_upper"]].to_numpy(dtype=float)
        g_vals = g_vals[np.isfinite(g_vals)]
        g_lim = max(1.0, float(np.abs(g_vals).max()) * 1.1 if g_vals.size else 1.0)
    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, axes = plt.subplots(len(outcomes), len(ratios), figsize=(8.0, fig_h), dpi=_DPI, squeeze=False,
                                 gridspec_kw={"height_ratios": heights, "width_ratios": ratios})
        for k, outcome in enumerate(outcomes):
            part = drawn.loc[drawn["outcome"] == outcome].reset_index(drop=True)
            oc = _outcome_config(config, outcome)
            ax, tax = axes[k][0], axes[k][1]
            ypos = np.arange(len(part))[::-1].astype(float)
            mcid = part["mcid"].iloc[0]
            ax.axvline(0.0, color="0.25", linewidth=1.0, zorder=1)
            if np.isfinite(mcid):
                for sign in (-1, 1):
                    ax.axvline(sign * mcid, color=_GREY, linestyle="--", linewidth=1.0, zorder=1)
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
            note = _favours(oc.get("better"), reference, treatment)
            ax.set_xlabel(label + ("\n" + note if note else ""), fontsize=8)
            # text column
            tax.set_axis_off()
            tax.set_ylim(ax.get_ylim())
            tax.set_xlim(0, 1)
            tax.text(0.0, len(part) - 0.4, f"Difference ({_level_pct(alpha)} CI)", fontsize=8,
                     fontweight="bold", va="bottom")
            tax.text(p_x, len(part) - 0.4, "p", fontsize=8, fontweight="bold", va="bottom")
            for y, r in zip(ypos, part.itertuples()):
                tax.text(0.0, y, f"{_num(r.estimate)} ({_num(r.ci_lower)} to {_num(r.ci_upper)})",
                         fontsize=8, va="center")
                p_text = _fmt_p(r.p_value)
                if np.isfinite(r.p_adjusted) and not str(r.adjustment).startswith("none") \
                        and not np.isclose(r.p_adjusted, r.p_value):
                    p_text += f"; adj. {_fmt_p(r.p_adjusted)}"
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
                gax.set_title(f"Hedges' g ({_level_pct(alpha)} CI)" if k == 0 else "", loc="left", fontsize=9)
                gax.set_xlabel("MMRM difference / baseline SD", fontsize=8)
        which = "the key visits" if (config.get("visits", {}) or {}).get("key") else "each visit"
        fig.suptitle(f"Treatment differences at {which} ({model.upper()}, {_level_pct(alpha)} CI)",
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
        try:
            fig.tight_layout(h_pad=0.6, rect=(0, bottom, 1, 1))
            _save(fig, path)
        finally:
            plt.close(fig)
    return drawn


# --------------------------------------------------------------------------- 4. waterfall


def _last_key_visit(rows: pd.DataFrame, config: dict) -> str:
    key = [str(v) for v in (config.get("visits", {}) or {}).get("key", []) or []]
    order = _visits(config)
    baseline = _baseline(config)
    observed = set(rows.loc[rows["score"].notna(), "visit"])
    for candidates in (key, [v for v in order if v != baseline]):
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
    their value (the returned table keeps the value).
    """
    rows = _outcome_rows(analysis, outcome)
    visit = str(visit) if visit is not None else _last_key_visit(rows, config)
    arms = _arms(config, analysis)
    colours = arm_colours(arms)
    oc = _outcome_config(config, outcome)
    better = oc.get("better", "lower")
    improvement = float((config.get("analysis", {}) or {}).get("responder_improvement", 0.3))
    at = rows.loc[rows["visit"] == visit, ["participant", "arm", "baseline", "score"]]
    n_total = int(rows["participant"].nunique())
    usable = at.loc[at["score"].notna() & at["baseline"].notna() & (at["baseline"] != 0)].copy()
    n_zero = int((at["score"].notna() & (at["baseline"] == 0)).sum())
    usable["pct_change"] = (usable["score"] - usable["baseline"]) / usable["baseline"] * 100.0
    usable = usable.sort_values(["pct_change", "participant"], ascending=[False, True], kind="mergesort")
    usable = usable.reset_index(drop=True)
    threshold = -100.0 * improvement if better != "higher" else 100.0 * improvement

    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 4.4), dpi=_DPI)
        x = np.arange(len(usable))
        values = usable["pct_change"].to_numpy(dtype=float)
        shown = np.clip(values, -_WATERFALL_CAP, _WATERFALL_CAP)
        ax.bar(x, shown, width=0.8,
               color=[colours.get(a, "0.5") for a in usable["arm"]], edgecolor="white", linewidth=0.4, zorder=2)
        clipped = np.flatnonzero(shown != values)
        for i in clipped:  # bars cut at the cap carry their value
            ax.text(x[i], shown[i], f"{_num(values[i], 0)}%", rotation=90, fontsize=7,
                    ha="center", va="top" if values[i] > 0 else "bottom", color="white", zorder=4)
        ax.axhline(0.0, color="0.25", linewidth=1.0, zorder=1)
        ax.axhline(threshold, color=_GREY, linestyle="--", linewidth=1.2, zorder=3)
        direction = "improvement" if better in ("lower", "higher") else "change"
        handles = [patches.Patch(color=colours[a], label=f"{a} (n = {int((usable['arm'] == a).sum())})")
                   for a in arms]
        handles.append(Line2D([], [], color=_GREY, linestyle="--",
                              label=f"response: \u2265{100 * improvement:g}% {direction} ({_num(threshold, 0)}%)"))
        ax.legend(handles=handles, loc="best", frameon=True)
        ax.set_xticks([])
        ax.set_xlim(-0.8, max(len(usable), 1) - 0.2)
        ax.set_xlabel("Participants, sorted by percent change")
        ax.set_ylabel(f"Change from baseline in {outcome} (%)")
        sub = f"{len(usable)} of {n_total} participants with a score at {visit}"
        if n_zero:
            sub += f"; {n_zero} with baseline 0 left out"
        if clipped.size:
            sub += f"; bars cut at \u00b1{_WATERFALL_CAP:g}% show their value"
        ax.set_title(f"{outcome}: percent change from baseline at {visit}{_better_suffix(better)}\n{sub}",
                     fontsize=9.5)
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)
    return usable[["participant", "arm", "baseline", "score", "pct_change"]]


# --------------------------------------------------------------------------- 5. responders


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
    arms = _arms(config)
    reference, treatment = arms[0], arms[1]
    colours = arm_colours(arms)
    alpha = _alpha(config)
    table = responders.copy()
    table["outcome"] = table["outcome"].astype(str)
    table["visit"] = table["visit"].astype(str)
    table["definition"] = table["definition"].astype(str)
    outcome_order = {o: i for i, o in enumerate(_efficacy(config))}
    outcomes = sorted(set(table["outcome"]), key=lambda o: (outcome_order.get(o, len(outcome_order)), o))
    definitions = [d for d in ("response", "remission") if d in set(table["definition"])]
    definitions += sorted(set(table["definition"]) - set(definitions))
    order = {v: i for i, v in enumerate(_visits(config))}
    rows = []
    for r in table.itertuples():
        for arm, side in ((reference, "reference"), (treatment, "treatment")):
            n, N = getattr(r, f"n_{side}"), getattr(r, f"N_{side}")
            lo, hi = wilson_interval(n, N, alpha)
            rows.append({"outcome": r.outcome, "definition": r.definition, "visit": r.visit, "arm": arm,
                         "n": int(n), "N": int(N), "proportion": n / N if N else np.nan, "ci_lower": lo,
                         "ci_upper": hi, "threshold": float(r.threshold)})
    drawn = pd.DataFrame(rows, columns=["outcome", "definition", "visit", "arm", "n", "N", "proportion",
                                        "ci_lower", "ci_upper", "threshold"])
    if drawn.empty:
        raise ValueError("the responder table is empty")
    improvement = float((config.get("analysis", {}) or {}).get("responder_improvement", 0.3))

    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, axes = plt.subplots(len(definitions), len(outcomes), figsize=(8.0, 0.6 + 2.9 * len(definitions)),
                                 dpi=_DPI, squeeze=False, sharey=True)
        width = 0.36
        for i, definition in enumerate(definitions):
            for j, outcome in enumerate(outcomes):
                ax = axes[i][j]
                part = drawn.loc[(drawn["outcome"] == outcome) & (drawn["definition"] == definition)]
                oc = _outcome_config(config, outcome)
                if definition == "response":
                    what = f"response (\u2265{100 * improvement:g}% improvement)"
                elif definition == "remission" and oc.get("remission_below") is not None:
                    what = f"remission (score < {oc['remission_below']:g})"
                else:
                    what = definition
                ax.set_title(f"{outcome}\n{what}", fontsize=8.5)
                ax.set_ylim(0, 1.18)
                ax.set_yticks(np.linspace(0, 1, 6))
                ax.set_yticklabels([f"{int(t * 100)}%" for t in np.linspace(0, 1, 6)])
                if part.empty:
                    ax.set_xticks([])
                    ax.text(0.5, 0.5, "not defined for this outcome", transform=ax.transAxes, ha="center",
                            va="center", fontsize=8, color=_GREY)
                    continue
                visits = sorted(set(part["visit"]), key=lambda v: (order.get(v, len(order)), v))
                for k, arm in enumerate((reference, treatment)):
                    sub = part.loc[part["arm"] == arm].set_index("visit").reindex(visits)
                    x = np.arange(len(visits)) + (k - 0.5) * width
                    p = sub["proportion"].to_numpy(dtype=float)
                    lo, hi = sub["ci_lower"].to_numpy(dtype=float), sub["ci_upper"].to_numpy(dtype=float)
                    ax.bar(x, p, width=width * 0.95, color=colours[arm], zorder=2,
                           label=arm if (i == 0 and j == 0) else None)
                    ok = np.isfinite(lo) & np.isfinite(hi)
                    ax.errorbar(x[ok], p[ok], yerr=np.vstack([p[ok] - lo[ok], hi[ok] - p[ok]]), fmt="none",
                                ecolor="0.2", elinewidth=1.0, capsize=3, zorder=3)
                    for xi, hi_i, n, N in zip(x, hi, sub["n"], sub["N"]):
                        if pd.notna(n):
                            ax.text(xi, (hi_i if np.isfinite(hi_i) else 0) + 0.02, f"{int(n)}/{int(N)}",
                                    ha="center", va="bottom", fontsize=7, zorder=4)
                ax.set_xticks(np.arange(len(visits)))
                ax.set_xticklabels(visits)
                ax.set_xlim(-0.6, len(visits) - 0.4)
                ax.grid(axis="x", visible=False)
            axes[i][0].set_ylabel("Participants (%)")
        handles = [patches.Patch(color=colours[a], label=a) for a in (reference, treatment)]
        fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.suptitle(f"Responders by arm (observed data; {_level_pct(alpha)} Wilson CI; n/N above the bars)",
                     fontsize=10)
        try:
            fig.tight_layout(rect=(0, 0.05, 1, 1))
            _save(fig, path)
        finally:
            plt.close(fig)
    return drawn.drop(columns="threshold")


# --------------------------------------------------------------------------- 6. missing pattern


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
    outcome = outcome or _primary(config)
    rows = _outcome_rows(analysis, outcome)
    order = _visits(config, analysis)
    arms = _arms(config, analysis)
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

    with sns.axes_style("white"), plt.rc_context(_RC):
        fig, axes = plt.subplots(len(arms), 1, figsize=(6.0, fig_h), dpi=_DPI, squeeze=False,
                                 gridspec_kw={"height_ratios": sizes})
        for ax, arm in zip(axes[:, 0], arms):
            part = observed.loc[observed["arm"] == arm].reset_index(drop=True)
            grid = part[order].to_numpy(dtype=bool)
            for r in range(grid.shape[0]):
                for c in range(grid.shape[1]):
                    face = colours[arm] if grid[r, c] else _MISSING_GREY
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
                   patches.Patch(facecolor=_MISSING_GREY, label="missing")]
        fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
        fig.suptitle(f"{outcome}: observed and missing assessments by participant", fontsize=10)
        try:
            fig.tight_layout(rect=(0, 0.03, 1, 1))
            _save(fig, path)
        finally:
            plt.close(fig)
    return observed


# --------------------------------------------------------------------------- 7. tipping point


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
        ``tipping_point.csv`` of :func:`pilottrial.analyses.missing.imputation.tipping_point`.
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
    (see :func:`pilottrial.analyses.missing.imputation.tipping_point`); at delta = 0 the analysis is MI under MAR.
    """
    alpha = _alpha(config)
    reference, treatment = str(config["arms"]["reference"]), str(config["arms"]["treatment"])
    colour = arm_colours(_arms(config))[treatment]
    table = tipping.copy()
    table["outcome"] = table["outcome"].astype(str)
    known = {o: i for i, o in enumerate(_efficacy(config))}
    outcomes = sorted(set(table["outcome"]), key=lambda o: (known.get(o, len(known)), o))
    if not outcomes:
        raise ValueError("the tipping-point table is empty")
    summary = []
    n = len(outcomes)
    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, axes = plt.subplots(1, n, figsize=(min(8.0, 1.2 + 2.9 * n), 3.9), dpi=_DPI, squeeze=False)
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
        axes[0][0].set_ylabel(f"Difference {treatment} \u2212 {reference}\n({_level_pct(alpha)} CI, MI)")
        fig.suptitle("Tipping-point analysis (delta-adjusted multiple imputation; "
                     "filled: CI excludes 0)", fontsize=10)
        fig.supxlabel("\u03b4: shift added to every imputed value of the treatment arm, in the unfavourable "
                      "direction (outcome units)", fontsize=8)
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)
    return pd.DataFrame(summary, columns=["outcome", "visit", "conclusion_at_zero", "tipping_delta",
                                          "conclusion_after", "delta_max"])


# --------------------------------------------------------------------------- 8. residuals


def plot_residuals(analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> pd.DataFrame:
    """MMRM residual diagnostics: normal QQ plot and standardized residual against fitted.

    The MMRM of the outcome is fitted as in the primary analysis
    (:func:`pilottrial.models.primary.fit_outcome_mmrm`) and its Cholesky residuals computed
    (:meth:`pilottrial.models.mmrm.MMRMFit.residuals`). Left: normal QQ plot of the standardized residuals
    (Blom plotting positions, points in the arm's colour) with the identity line. Right:
    standardized residual against the fitted value, marker and colour by visit, with lines
    at 0 and at plus and minus 2.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table.
    outcome : str
        Outcome name.
    config : dict
        Trial config (``analysis.covariance``, ``fallback``, ``df_method``).
    path : str or path-like
        PNG path; the SVG is written beside it.

    Returns
    -------
    pandas.DataFrame
        :meth:`~pilottrial.models.mmrm.MMRMFit.residuals` of the fit.
    """
    fit = fit_outcome_mmrm(analysis, outcome, config)
    res = fit.residuals()
    arms = _arms(config, analysis)
    colours = arm_colours(arms)
    visits = [v for v in _visits(config, analysis) if v in set(res["visit"])]
    visits += sorted(set(res["visit"]) - set(visits))
    visit_colours = {v: OKABE_ITO[(2 + i) % len(OKABE_ITO)] for i, v in enumerate(visits)}
    markers = dict(zip(visits, ["o", "s", "^", "D", "v", "P", "X", "<", ">"] * 3))
    std = res["standardized"].to_numpy(dtype=float)
    n = len(std)
    rank = np.argsort(np.argsort(std, kind="mergesort"), kind="mergesort")
    theoretical = stats.norm.ppf((rank + 1 - 0.375) / (n + 0.25))
    with sns.axes_style(_STYLE), plt.rc_context(_RC):
        fig, (qq, rf) = plt.subplots(1, 2, figsize=(8.0, 4.4), dpi=_DPI)
        for arm in arms:
            mask = (res["arm"] == arm).to_numpy() if "arm" in res else np.ones(n, dtype=bool)
            if mask.any():
                qq.scatter(theoretical[mask], std[mask], s=16, color=colours[arm], alpha=0.8,
                           edgecolor="white", linewidth=0.4, label=arm, zorder=3)
        lim = float(max(np.abs(theoretical).max(), np.abs(std).max(), 2.5)) * 1.05 if n else 3.0
        qq.plot([-lim, lim], [-lim, lim], color=_GREY, linestyle="--", linewidth=1.0, zorder=2)
        qq.set_xlim(-lim, lim)
        qq.set_ylim(-lim, lim)
        qq.set_xlabel("Standard normal quantile")
        qq.set_ylabel("Standardized (Cholesky) residual")
        qq.set_title("Normal QQ plot", fontsize=9.5)
        qq.legend(title="Arm", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=max(len(arms), 1),
                  frameon=False)
        for v in visits:
            mask = (res["visit"] == v).to_numpy()
            rf.scatter(res.loc[mask, "fitted"], std[mask], s=18, color=visit_colours[v], marker=markers[v],
                       alpha=0.85, edgecolor="white", linewidth=0.4, label=v, zorder=3)
        rf.axhline(0.0, color="0.25", linewidth=1.0, zorder=1)
        for sign in (-2, 2):
            rf.axhline(sign, color=_GREY, linestyle="--", linewidth=0.9, zorder=1)
        rf.set_ylim(-lim, lim)
        response = fit.formula.split("~")[0].strip()
        rf.set_xlabel(f"Fitted {response}")
        rf.set_ylabel("Standardized (Cholesky) residual")
        rf.set_title("Residual against fitted, by visit", fontsize=9.5)
        rf.legend(title="Visit", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=max(len(visits), 1),
                  frameon=False)
        structure = _STRUCTURES.get(fit.structure, fit.structure)
        fig.suptitle(f"{outcome}: MMRM residual diagnostics\n({structure} covariance; "
                     f"{fit.n_obs} observations of {fit.n_subjects} participants)", fontsize=10)
        try:
            fig.tight_layout()
            _save(fig, path)
        finally:
            plt.close(fig)
    return res


# --------------------------------------------------------------------------- 9. Table 1


def standardized_mean_difference(treatment, reference, kind: str = "continuous") -> float:
    r"""Absolute standardized mean difference between two arms (Austin 2009).

    Parameters
    ----------
    treatment, reference : array-like
        Values of one characteristic in each arm (missing values are ignored).
    kind : {"continuous", "categorical"}
        Continuous: the difference in means over the root mean of the variances.
        Categorical: over the levels present (binary: Austin's formula for proportions;
        more than two levels: the multivariate form of Yang and Dalton).

    Returns
    -------
    float
        :math:`|d|`; 0 when the arms do not differ, NaN when it is not defined (an empty
        arm, or different values with zero variance).

    Notes
    -----
    Continuous: :math:`d = (\bar x_T - \bar x_R) / \sqrt{(s_T^2 + s_R^2)/2}` with sample
    variances (denominator n - 1).
    Binary: :math:`d = (\hat p_T - \hat p_R) / \sqrt{(\hat p_T(1-\hat p_T) + \hat p_R(1-\hat p_R))/2}`.
    *k* levels: with :math:`T`, :math:`R` the proportions of levels 2..k and
    :math:`S = (S_T + S_R)/2`, :math:`S_{ll} = p_l(1-p_l)`, :math:`S_{lm} = -p_lp_m`,
    :math:`d = \sqrt{(T-R)'S^{-1}(T-R)}` (reduces to the binary formula for k = 2).

    References
    ----------
    Austin PC. Balance diagnostics for comparing the distribution of baseline covariates
    between treatment groups in propensity-score matched samples. Stat Med
    2009;28:3083-3107.

    Yang D, Dalton JE. A unified approach to measuring the effect size between two groups
    using SAS. SAS Global Forum 2012, paper 335.

    Examples
    --------
    >>> round(standardized_mean_difference([1, 2, 3], [2, 3, 4]), 6)
    1.0
    >>> round(standardized_mean_difference(["F", "F", "M", "M"], ["F", "M", "M", "M"], "categorical"), 4)
    0.5345
    """
    if kind == "continuous":
        t = pd.to_numeric(pd.Series(treatment), errors="coerce").dropna().to_numpy(dtype=float)
        r = pd.to_numeric(pd.Series(reference), errors="coerce").dropna().to_numpy(dtype=float)
        if t.size == 0 or r.size == 0:
            return math.nan
        diff = float(t.mean() - r.mean())
        var_t = float(t.var(ddof=1)) if t.size > 1 else 0.0
        var_r = float(r.var(ddof=1)) if r.size > 1 else 0.0
        denom = math.sqrt((var_t + var_r) / 2.0)
        if denom == 0.0:
            return 0.0 if diff == 0.0 else math.nan
        return abs(diff) / denom
    if kind != "categorical":
        raise ValueError(f"kind must be 'continuous' or 'categorical', not {kind!r}")
    t = pd.Series(treatment).dropna().astype(str)
    r = pd.Series(reference).dropna().astype(str)
    if t.empty or r.empty:
        return math.nan
    levels = sorted(set(t) | set(r))
    if len(levels) < 2:
        return 0.0
    pt = np.array([(t == lv).mean() for lv in levels])[1:]
    pr = np.array([(r == lv).mean() for lv in levels])[1:]
    diff = pt - pr

    def cov(p):
        return np.diag(p) - np.outer(p, p)

    S = (cov(pt) + cov(pr)) / 2.0
    if not diff.any():
        return 0.0
    value = float(diff @ np.linalg.pinv(S) @ diff)
    return math.sqrt(max(value, 0.0)) if np.isfinite(value) else math.nan


def _decimals(sd: float) -> int:
    if not np.isfinite(sd) or sd <= 0:
        return 1
    return int(min(4, max(1, 1 - math.floor(math.log10(sd)))))


def _continuous_rows(variable, values_by_arm, arms, overall):
    sd_all = float(overall.std(ddof=1)) if overall.size > 1 else math.nan
    d = _decimals(sd_all)
    mean_sd, median_iqr = {}, {}
    for arm, x in list(values_by_arm.items()) + [("overall", overall)]:
        if x.size == 0:
            mean_sd[arm] = median_iqr[arm] = "NA"
            continue
        sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
        mean_sd[arm] = f"{_num(float(x.mean()), d)} ({_num(sd, d)})"
        q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        median_iqr[arm] = f"{_num(med, d)} [{_num(q1, d)}, {_num(q3, d)}]"
    smd = standardized_mean_difference(values_by_arm[arms[1]], values_by_arm[arms[0]]) if len(arms) > 1 else math.nan
    return [{"variable": variable, "level": "", "statistic": "mean (SD)", **mean_sd, "smd": smd},
            {"variable": variable, "level": "", "statistic": "median [IQR]", **median_iqr, "smd": math.nan}]


def table_one(analysis: pd.DataFrame, raw_frame: pd.DataFrame, config: dict,
              characteristics: list | None = None) -> pd.DataFrame:
    r"""Table 1: baseline characteristics by arm with standardized mean differences.

    Rows, in order: the number randomized; each participant characteristic of the raw data
    (by default every column that is not the participant, arm or visit column, an outcome
    column or a dropped column; e.g. age and sex); the baseline score of every outcome.
    Continuous variables get a *mean (SD)* and a *median [IQR]* row, categorical ones an
    *n (%)* row per level (and a *missing* row when values are missing).

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table; defines the participants and their arms.
    raw_frame : pandas.DataFrame
        The trial data as read (e.g. :func:`pilottrial.data.ingest.read_trial_data` or
        ``pandas.read_csv`` of ``data.path``); a participant's characteristics are taken from
        the baseline visit row (else the first row).
    config : dict
        Trial config (``columns``, arms, visits, outcomes, ``data.drop_columns``).
    characteristics : list of str, optional
        Raw columns to describe, in this order (default: detected as above). A column is
        continuous when all its values are numbers and it has more than two distinct values,
        categorical otherwise.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, level, statistic``, one text column per arm (reference arm,
        treatment arm, others), ``overall`` and ``smd`` (the absolute standardized mean
        difference treatment vs reference, :func:`standardized_mean_difference`, on the first
        row of each variable; NaN elsewhere).

    Notes
    -----
    Decimals follow the overall SD (1 decimal for SD >= 1, 2 for 0.1 <= SD < 1, ...);
    quartiles are linear interpolations (``numpy.quantile``). Percentages are of the
    participants of the arm with a known value. Baseline imbalance in a randomized trial is
    chance by construction; the SMD describes its size (|SMD| > 0.1 is often flagged), no
    p value is given (CONSORT 2010, item 15).
    """
    arms = _arms(config, analysis)
    people = _participants(analysis)
    arm_of = people.set_index("participant")["arm"]
    cols = config.get("columns", {}) or {}
    pid = cols.get("participant", "participant")
    visit_col = cols.get("visit", "visit")
    baseline = _baseline(config)

    frame = raw_frame.copy()
    frame[pid] = frame[pid].astype(str)
    frame = frame.loc[frame[pid].isin(set(arm_of.index))]
    if visit_col in frame and baseline is not None:
        frame = frame.assign(_first=(frame[visit_col].astype(str) != baseline).astype(int))
        frame = frame.sort_values("_first", kind="mergesort").drop(columns="_first")
    per_person = frame.drop_duplicates(pid, keep="first").set_index(pid).reindex(arm_of.index)
    if characteristics is None:
        excluded = {pid, cols.get("arm", "arm"), visit_col, cols.get("paramcd"), cols.get("value"),
                    "participant", "arm", "visit"}
        excluded |= {str(o.get("column")) for o in config.get("outcomes", []) or []}
        excluded |= set((config.get("data", {}) or {}).get("drop_columns", []) or [])
        characteristics = [c for c in raw_frame.columns if c not in excluded and per_person[c].notna().any()]

    def split(values: pd.Series) -> dict:
        return {a: values[arm_of == a] for a in arms}

    rows = [{"variable": "n", "level": "", "statistic": "participants randomized",
             **{a: str(int((arm_of == a).sum())) for a in arms}, "overall": str(len(arm_of)), "smd": math.nan}]
    for column in characteristics:
        values = per_person[column]
        text = values.astype(object).where(values.notna())
        if text.map(lambda v: isinstance(v, str)).any():
            text = text.map(lambda v: v.strip() if isinstance(v, str) else v).replace("", np.nan)
        numeric = pd.to_numeric(text, errors="coerce")
        is_numeric = numeric.notna().sum() == text.notna().sum() and numeric.notna().any()
        if is_numeric and numeric.nunique() > 2:
            by_arm = {a: v.dropna().to_numpy(dtype=float) for a, v in split(numeric).items()}
            rows += _continuous_rows(str(column), by_arm, arms, numeric.dropna().to_numpy(dtype=float))
            n_missing = {a: int(v.isna().sum()) for a, v in split(numeric).items()}
            if sum(n_missing.values()):
                rows.append({"variable": str(column), "level": "missing", "statistic": "n",
                             **{a: str(n) for a, n in n_missing.items()},
                             "overall": str(sum(n_missing.values())), "smd": math.nan})
            continue
        labels = text.map(lambda v: f"{v:g}" if isinstance(v, float) else str(v), na_action="ignore")
        groups = split(labels)
        if len(arms) > 1:
            smd = standardized_mean_difference(groups[arms[1]], groups[arms[0]], "categorical")
        else:
            smd = math.nan
        rows.append({"variable": str(column), "level": "", "statistic": "n (%)", **{a: "" for a in arms},
                     "overall": "", "smd": smd})
        levels = sorted(labels.dropna().unique(), key=str)
        for level in levels + (["missing"] if labels.isna().any() else []):
            cell = {}
            for a, g in list(groups.items()) + [("overall", labels)]:
                known = int(g.notna().sum())
                if level == "missing":
                    cell[a] = str(int(g.isna().sum()))
                else:
                    k = int((g == level).sum())
                    cell[a] = f"{k} ({100 * k / known:.1f}%)" if known else "0"
            rows.append({"variable": str(column), "level": str(level),
                         "statistic": "n" if level == "missing" else "n (%)", **cell, "smd": math.nan})
    rows_outcomes = analysis.copy()
    rows_outcomes["participant"] = rows_outcomes["participant"].astype(str)
    for o in config.get("outcomes", []) or []:
        name = str(o["name"])
        part = rows_outcomes.loc[rows_outcomes["outcome"].astype(str) == name]
        if baseline is not None:
            part = part.loc[part["visit"].astype(str) == baseline]
            scores = pd.to_numeric(part.set_index("participant")["score"], errors="coerce")
        else:
            scores = pd.to_numeric(part.groupby("participant")["baseline"].first(), errors="coerce")
        scores = scores[~scores.index.duplicated()].reindex(arm_of.index)
        if scores.notna().sum() == 0:
            continue
        by_arm = {a: v.dropna().to_numpy(dtype=float) for a, v in split(scores).items()}
        rows += _continuous_rows(f"{name} at baseline", by_arm, arms, scores.dropna().to_numpy(dtype=float))
        n_missing = {a: int(v.isna().sum()) for a, v in split(scores).items()}
        if sum(n_missing.values()):
            rows.append({"variable": f"{name} at baseline", "level": "missing", "statistic": "n",
                         **{a: str(n) for a, n in n_missing.items()}, "overall": str(sum(n_missing.values())),
                         "smd": math.nan})
    table = pd.DataFrame(rows, columns=["variable", "level", "statistic", *arms, "overall", "smd"])
    table["smd"] = table["smd"].astype(float)
    return table
