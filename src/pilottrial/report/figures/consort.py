"""The CONSORT flow diagram of a randomized pilot trial (PNG and SVG).

:func:`plot_consort` counts the participants at each stage -- screened, excluded (with the
reasons of the screening log), randomized, allocated, followed up at each visit, analysed in the
primary MMRM -- and draws the boxes, one column per arm in the arm's colour.

References
----------
Schulz KF, Altman DG, Moher D. CONSORT 2010 statement: updated guidelines for reporting
parallel group randomised trials. BMJ 2010;340:c332.

Eldridge SM, Chan CL, Campbell MJ, et al. CONSORT 2010 statement: extension to randomised
pilot and feasibility trials. BMJ 2016;355:i5239.
"""

from __future__ import annotations

import textwrap
from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patches

from pilottrial.config.trial import Trial
from pilottrial.models.frame import model_frame
from pilottrial.report.figures.common import arm_order, participants, visit_order
from pilottrial.report.figures.labels import at_visit
from pilottrial.report.figures.layout import text_width, wrap_to_width
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, arm_colours, theme
from pilottrial.report.format import arm_label

__all__ = ["plot_consort"]

#: Up to this many post-baseline visits get a follow-up box each; more share one box per arm.
_FOLLOW_UP_BOXES = 4

_YES = {"yes", "y", "true", "1"}


def _consort_counts(analysis: pd.DataFrame, trial: Trial, screening: pd.DataFrame | None) -> dict:
    """The numbers of the diagram (see :func:`plot_consort`, Returns)."""
    arms = arm_order(trial, analysis)
    order = visit_order(trial, analysis)
    baseline = trial.baseline
    post = [v for v in order if v != baseline] if baseline is not None else order[1:]
    people = participants(analysis)
    scores = analysis.loc[pd.to_numeric(analysis["score"], errors="coerce").notna(), ["participant", "visit"]]
    seen = {v: set(scores.loc[scores["visit"].astype(str) == v, "participant"].astype(str)) for v in order}
    primary = trial.primary.name
    try:
        analysed = set(model_frame(analysis, primary, trial.config)["participant"].astype(str))
    except (KeyError, ValueError):  # no usable primary outcome: nobody analysed
        analysed = set()

    counts: dict = {"screened": None, "eligible": None, "not_eligible": None,
                    "eligible_not_randomized": None, "excluded": None, "randomized_log": None,
                    "not_eligible_reasons": {}, "not_randomized_reasons": {},
                    "screening_source": None}
    if screening is not None:
        eligible = screening["eligible"].astype(str).str.strip().str.lower().isin(_YES)
        randomized = screening["randomized"].astype(str).str.strip().str.lower().isin(_YES)
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
        given = trial.section("feasibility").get("counts") or {}
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


def _fit(fig, lines: list, width_in: float, fontsize: float, align: str = "left", pad: float = 0.08) -> list:
    """Box lines ``(text, bold, indent)`` wrapped at word boundaries to the inside of a box
    ``width_in`` wide, measured with the renderer; a continuation line is indented one step more.
    Lines that fit are returned unchanged."""
    out = []
    for text, bold, indent in lines:
        if text is None:
            out.append((text, bold, indent))
            continue
        inner = width_in - 2 * pad - (0.14 * indent if align == "left" else 0.0)
        weight = "bold" if bold else "normal"
        if text_width(fig, text, fontsize, weight) / fig.dpi <= inner:
            out.append((text, bold, indent))
            continue
        wrapped = wrap_to_width(fig, text, (inner - (0.14 if align == "left" else 0.0)) * fig.dpi, fontsize, weight)
        for k, part in enumerate(wrapped.split("\n")):
            out.append((part, bold, indent if k == 0 or align != "left" else indent + 1))
    return out


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
    trial = Trial.from_config(config)
    counts = _consort_counts(analysis, trial, screening)
    arms = list(counts["arms"])
    colours = arm_colours(arms)
    fs = 8.5
    # one allocation column per arm: three or more arms widen the diagram, so that each column keeps
    # about the width of a two-arm column (long arm names and reasons still wrap inside their box)
    width = 7.6 + 2.2 * (len(arms) - 2) if trial.is_multi_arm else 7.6
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

    with theme("white"):
        fig = plt.figure(figsize=(width, 10.0), dpi=DPI)  # height set below
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
        alloc = {a: [(f"Allocated to {arm_label(a)} (n = {c['allocated']})", True, 0),
                     (f"Received allocated intervention (n = {c['received']})", False, 1),
                     (f"Did not receive it (n = {c['not_received']})", False, 1)]
                 for a, c in counts["arms"].items()}
        follow = {}
        compact = len(post) > _FOLLOW_UP_BOXES
        for a, c in counts["arms"].items():
            follow[a] = []
            if compact:  # one box: a line per visit
                lines = [("Follow-up", True, 0)]
                for v in post:
                    f = c["follow_up"][v]
                    text = f"{at_visit(v)}: assessed {f['assessed']}, lost {f['lost']}"
                    lines.append((text + (f", missed {f['missed']}" if f["missed"] else ""), False, 1))
                follow[a].append(lines)
                continue
            for v in post:
                f = c["follow_up"][v]
                lost = f"Lost to follow-up (n = {f['lost']})"
                if 0 < f["newly_lost"] < f["lost"]:
                    lost = f"Lost to follow-up (n = {f['lost']}; {f['newly_lost']} since the last visit)"
                lines = [(f"Follow-up at {at_visit(v)}", True, 0), (f"Assessed (n = {f['assessed']})", False, 1),
                         (lost, False, 1)]
                if f["missed"]:
                    lines.append((f"Missed the visit, seen later (n = {f['missed']})", False, 1))
                follow[a].append(lines)
        primary = counts["primary_outcome"]
        analysed = {a: [(f"Analysed (n = {c['analysed']})", True, 0),
                        (f"MMRM of the primary outcome, {primary}", False, 1),
                        (f"Excluded: no post-baseline {primary} (n = {c['not_analysed']})", False, 1)]
                    for a, c in counts["arms"].items()}
        # every line inside its box (long reasons, arm and outcome names)
        assessed_lines = _fit(fig, assessed_lines, top_w, fs, "center")
        rand_lines = _fit(fig, rand_lines, top_w, fs, "center")
        excl_lines = _fit(fig, excl_lines, excl_w, fs)
        alloc = {a: _fit(fig, lines, col_w, fs) for a, lines in alloc.items()}
        follow = {a: [_fit(fig, lines, col_w, fs) for lines in boxes] for a, boxes in follow.items()}
        analysed = {a: _fit(fig, lines, col_w, fs) for a, lines in analysed.items()}
        n_boxes = len(next(iter(follow.values()))) if arms else 0
        n_follow_lines = [max(len(follow[a][j]) for a in arms) for j in range(n_boxes)]

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
                for j in range(n_boxes):
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
        save_figure(fig, path, tight_layout=False)
    return counts
