"""The report of a trial with three or more arms: sections per comparison, merged.

Result tables of a k-arm trial have one block of rows per comparison, named in their last column
``treatment`` (:attr:`pilottrial.config.Trial.comparisons`). A section whose two-arm builder reads
such a table is built once per comparison, on the two-arm view of the trial
(:meth:`pilottrial.config.Trial.pair`) and the rows of that comparison (:func:`comparison_tables`),
and the sections are merged (:func:`merge_blocks`): the same block once, the tables of the
comparisons in one table with a *Comparison* column when they have the same columns, the generated
sentences of every comparison one after the other. The outcomes, the summary and the list of all
contrasts are written for k arms directly (:func:`multi_arm_outcomes_section`,
:func:`multi_arm_summary_section`, :func:`multi_arm_contrasts_section`).

A two-arm report never comes here.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from pilottrial.config.trial import Comparison
from pilottrial.report.format import (
    MISSING,
    arm_label,
    as_float,
    fmt_ci,
    fmt_estimate,
    fmt_int,
    fmt_num,
    fmt_p,
    not_estimable_reason,
    not_estimable_text,
    plural,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import bullets, heading, para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.sentences import ARM_ADJUSTMENT_NAMES, contrast_sentence
from pilottrial.report.sections.tables import first_row, has_columns

__all__ = ["comparison_label", "comparison_tables", "pair_context", "merge_blocks", "by_comparison",
           "multi_arm_outcomes_section", "multi_arm_summary_section", "multi_arm_contrasts_section",
           "adjustment_name"]


def comparison_label(comparison: Comparison) -> str:
    """``"ketamine-0.5 vs midazolam"`` (arm codes as ``"arm 1"``)."""
    return f"{arm_label(comparison.treatment)} vs {arm_label(comparison.reference)}"


def adjustment_name(c: Context) -> str:
    """The adjustment across the comparisons in words: ``"Dunnett-adjusted"``..."""
    return ARM_ADJUSTMENT_NAMES.get(c.trial.arm_adjustment, f"{c.trial.arm_adjustment}-adjusted")


def comparison_tables(c: Context, comparison: Comparison) -> dict[str, pd.DataFrame]:
    """The result tables as one comparison's two-arm report reads them.

    A table whose ``treatment`` column names comparisons keeps the rows of ``comparison`` (and rows
    without a comparison, e.g. rows by arm) and loses the column; a ``treatment`` column with other
    values is a column of its own (the estimands' treatment conditions) and the table is kept whole.
    """
    names = {x.name for x in c.comparisons}
    out = {}
    for name, table in c.tables.items():
        if isinstance(table, pd.DataFrame) and "treatment" in table.columns:
            values = table["treatment"]
            if set(values.dropna().astype(str)) <= names:
                keep = values.isna() | (values.astype(str) == comparison.name)
                table = table.loc[keep].drop(columns="treatment").reset_index(drop=True)
        out[name] = table
    return out


def pair_context(c: Context, comparison: Comparison) -> Context:
    """The two-arm report context of one comparison (its tables, no figures)."""
    return Context(c.trial.pair(comparison).config, comparison_tables(c, comparison), [], c.provenance,
                   c.extra_warnings)


def _insert_column(block: dict, labels: list[str]) -> dict:
    """A table block with a *Comparison* column after the row headers; ``labels`` per body row."""
    head = []
    for i, row in enumerate(block["head"]):
        row = [dict(cell) for cell in row]
        if i == len(block["head"]) - 1:
            row.insert(1, {"text": "Comparison", "th": True, "scope": "col", "colspan": 1, "cls": ""})
        elif row:
            row[0]["colspan"] += 1
        head.append(row)
    groups, k = [], 0
    for group in block["groups"]:
        rows = []
        for row in group["rows"]:
            cells = [dict(cell) for cell in row["cells"]]
            cells.insert(1, {"text": labels[k], "th": False, "scope": "", "colspan": 1, "cls": "comparison"})
            rows.append({**row, "cells": cells})
            k += 1
        groups.append({**group, "rows": rows})
    return {**block, "head": head, "groups": groups, "ncols": block["ncols"] + 1}


def _merge_tables(parts: list[tuple[Comparison, dict]]) -> dict:
    """One table of the comparisons' tables (same caption and columns): rows of a group together,
    comparisons in order inside each group, a *Comparison* column."""
    first = parts[0][1]
    order: list = []
    rows: dict = {}
    for comparison, block in parts:
        for group in block["groups"]:
            if group["label"] not in rows:
                order.append(group["label"])
                rows[group["label"]] = []
            rows[group["label"]] += [(comparison, row) for row in group["rows"]]
    groups = [{"label": label, "rows": [row for _, row in rows[label]]} for label in order]
    labels = [comparison_label(comparison) for label in order for comparison, _ in rows[label]]
    merged = _insert_column({**first, "groups": groups}, labels)
    n_rows = sum(len(g["rows"]) + (1 if g["label"] else 0) for g in groups)
    classes = [x for x in str(first.get("cls", "")).split() if x != "keep"] + (["keep"] if n_rows <= 24 else [])
    return {**merged, "cls": " ".join(classes)}


def merge_blocks(parts: list[tuple[Comparison, list[dict]]]) -> list[dict]:
    """The sections of the comparisons as one section.

    When every comparison gave the same kinds of blocks in the same order, they are merged block by
    block: a block the same in every comparison once; lists of sentences concatenated (repeated items
    once); tables with the same caption, columns and note as one table with a *Comparison* column,
    other tables one after the other with the comparison in the caption; differing paragraphs one
    after the other. Otherwise each comparison's blocks follow under a sub-heading naming it.
    """
    if not parts:
        return []
    kinds = [[b["kind"] for b in blocks] for _, blocks in parts]
    if any(k != kinds[0] for k in kinds):
        out = []
        for comparison, blocks in parts:
            out.append(heading(comparison_label(comparison)))
            out += blocks
        return out
    out = []
    for j in range(len(kinds[0])):
        column = [(comparison, blocks[j]) for comparison, blocks in parts]
        blocks = [b for _, b in column]
        if all(b == blocks[0] for b in blocks):
            out.append(blocks[0])
        elif blocks[0]["kind"] == "ul":
            items = list(dict.fromkeys(item for b in blocks for item in b["items"]))
            out.append({**blocks[0], "items": items})
        elif blocks[0]["kind"] == "table":
            same = all({k: v for k, v in b.items() if k != "groups"} == {k: v for k, v in blocks[0].items()
                                                                        if k != "groups"} for b in blocks)
            if same:
                out.append(_merge_tables(column))
            else:
                out += [{**b, "caption": f"{b['caption']} ({comparison_label(comparison)})"} for comparison, b in column]
        else:
            seen = []
            for b in blocks:
                if b not in seen:
                    seen.append(b)
            out += seen
    return out


def by_comparison(builder: Callable[[Context], list[dict]], section: str) -> Callable[[Context], list[dict]]:
    """A section builder for k arms from a two-arm one: run per comparison, merged, then the
    section's figures (drawn for all arms)."""
    def build(c: Context) -> list[dict]:
        parts = [(comparison, builder(pair_context(c, comparison))) for comparison in c.comparisons]
        return merge_blocks(parts) + c.figures_for(section)
    return build


def _sentences(c: Context, outcome, visits) -> list[str]:
    """The generated sentence of each comparison at each visit (visits outer, comparisons inner)."""
    out = []
    for v in visits:
        for comparison in c.comparisons:
            row = c.contrast(outcome.name, "mmrm", v, comparison)
            out.append(contrast_sentence(c.trial.pair(comparison), outcome, v, row, c.trial.arm_adjustment))
    return out


def _descr_cells(desc: pd.DataFrame, outcome: str, arm: str, visit: str) -> list[str]:
    r = first_row(desc, outcome=outcome, arm=arm, visit=visit)
    if r is None:
        return [MISSING, MISSING, MISSING]
    change = (MISSING if as_float(r.get("change_mean")) is None
              else f"{fmt_num(r.get('change_mean'), 1)} ({fmt_num(r.get('change_sd'), 1)})")
    return [fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), 1)} ({fmt_num(r.get('sd'), 1)})",
            change]


def _adjusted_ci(row: pd.Series | None) -> str:
    if row is None or as_float(row.get("ci_lower_adjusted")) is None:
        return MISSING
    return fmt_ci(row.get("ci_lower_adjusted"), row.get("ci_upper_adjusted"))


def multi_arm_outcomes_section(c: Context) -> list[dict]:
    """Outcomes and estimation with three or more arms: per efficacy outcome the sentences of every
    comparison, the observed scores by arm, and the MMRM differences with a *Comparison* column."""
    desc = c.t("descriptives")
    mult = c.t("multiplicity")
    adjusted = adjustment_name(c)
    blocks: list[dict] = [para(
        f"Treatment effects from the MMRM of all {c.trial.n_arms} arms, for each comparison ("
        + "; ".join(comparison_label(x) for x in c.comparisons)
        + f"), key visits first, with {c.level} confidence intervals and the {adjusted} intervals and "
          f"p-values across the {plural(len(c.comparisons), 'comparison')} at each visit. For outcomes where lower "
          f"scores are better, a negative difference favours the first-named arm.")]
    holm = str(c.analysis.get("multiplicity", "holm")) == "holm" and len(c.efficacy) > 1
    figures = c.figures_for("outcomes")
    blocks += [f for f in figures if not f["outcome"]]
    placed = set()
    other = [v for v in c.post_baseline if v not in c.key_visits]
    for o in c.efficacy:
        name = o.name
        blocks.append(heading(f"{name}{' (primary outcome)' if o.primary else ''}"))
        blocks.append(bullets(_sentences(c, o, c.key_visits), cls="key"))
        score_groups, diff_groups = [], []
        for label, visits in (("Key visits", c.key_visits), ("Other visits", other)):
            scores, diffs = [], []
            for v in visits:
                scores.append([visit_label(v)] + [x for arm in c.arms for x in _descr_cells(desc, name, arm, v)])
                for comparison in c.comparisons:
                    row = c.contrast(name, "mmrm", v, comparison)
                    adj = None
                    if has_columns(mult, "outcome", "treatment"):
                        adj = first_row(mult, outcome=name, model="mmrm", visit=v, treatment=comparison.name)
                    holm_p = MISSING
                    if adj is not None:
                        how = str(adj.get("adjustment", ""))
                        holm_p = "not adjusted" if how.startswith("none") else fmt_p(adj.get("p_adjusted"), prefix=False)
                    if row is None:
                        cells = [MISSING] * 4
                    else:
                        cells = [fmt_estimate(row), fmt_p(row.get("p_value"), prefix=False), _adjusted_ci(row),
                                 fmt_p(row.get("p_value_adjusted"), prefix=False)]
                    diffs.append([visit_label(v), comparison_label(comparison)] + cells + ([holm_p] if holm else []))
            if scores:
                score_groups.append((label, scores))
            if diffs:
                diff_groups.append((label, diffs))
        columns = [("Visit", "text")] + [(h, "num") for _ in c.arms for h in ("n", "Score", "Change")]
        blocks.append(table_block(
            f"{name}: observed scores by arm", columns, groups=score_groups,
            spanners=[("", 1)] + [(arm_label(a), 3) for a in c.arms], cls="wide",
            note="Score and change from baseline: mean (SD) of the participants assessed at each visit."))
        note = (f"Difference: the MMRM estimate ({c.df_label} df), first-named arm minus second; {adjusted}: "
                f"simultaneous across the comparisons at the visit.")
        if holm:
            note += " p (Holm): adjusted across the secondary outcomes at each key visit within each comparison."
        blocks.append(table_block(
            f"{name}: MMRM differences in {c.effect_measure.replace(' from baseline', '')} by comparison",
            [("Visit", "text"), ("Comparison", "text"), (f"Difference ({c.level} CI)", "ci"), ("p", "num"),
             (f"{adjusted} {c.level} CI", "ci"), (f"p ({adjusted.split('-')[0]})", "num")]
            + ([("p (Holm)", "num")] if holm else []), groups=diff_groups, note=note, cls="wide"))
        mine = [f for f in figures if f["outcome"] == name]
        blocks += mine
        placed.update(id(f) for f in mine)
    blocks += [f for f in figures if f["outcome"] and id(f) not in placed]
    return blocks


def multi_arm_summary_section(c: Context, summary: Callable[[Context], list[dict]]) -> list[dict]:
    """Summary with three or more arms: the design, the primary outcome's sentences for every
    comparison, then the rest of the two-arm summary of each comparison (harms, feasibility), merged."""
    blocks = [para(
        f"Randomized, parallel-group {c.kind} of {c.trial.n_arms} arms, {c.treatment_name} versus "
        f"{c.reference_name} ({text_or_missing(c.trial.name)}); {plural(c.n_total, 'participant')} randomized "
        f"({c.arm_n_text()}). Effects are differences in {c.effect_measure} for each comparison ("
        + "; ".join(comparison_label(x) for x in c.comparisons)
        + f") with {c.level} confidence intervals, also {adjustment_name(c)} across the comparisons"
        + (f"; as in any {c.kind}, they are estimates for planning, not tests of efficacy." if c.is_pilot else "."))]
    if c.primary is not None:
        blocks.append(heading(f"Primary outcome: {c.primary.name}"))
        blocks.append(bullets(_sentences(c, c.primary, c.key_visits), cls="key"))
    rest = []
    for comparison in c.comparisons:
        pair = summary(pair_context(c, comparison))
        # the pair's design paragraph and primary-outcome sentences are replaced by the ones above
        skip = 3 if c.primary is not None else 1
        rest.append((comparison, pair[skip:]))
    return blocks + merge_blocks(rest)


def multi_arm_contrasts_section(c: Context) -> list[dict]:
    """A.3 with three or more arms: every contrast of every comparison, unadjusted and adjusted."""
    labels = {"mmrm": "MMRM", "lmm": "LMM"}
    adjusted = adjustment_name(c)
    groups = []
    for o in c.outcomes:
        rows = []
        decimals = c.decimals(o.name)[1]
        for model in ("mmrm", "lmm"):
            for v in c.post_baseline:
                for comparison in c.comparisons:
                    r = c.contrast(o.name, model, v, comparison)
                    if r is None:
                        continue
                    lead = [f"{labels[model]}, {visit_label(v)}", comparison_label(comparison)]
                    reason = not_estimable_reason(r)
                    if reason is not None and as_float(r.get("estimate")) is None:
                        rows.append(lead + [not_estimable_text(reason)] + [MISSING] * 6)
                        continue
                    rows.append(lead + [fmt_num(r.get("estimate"), decimals), fmt_num(r.get("std_error"), decimals),
                                        fmt_ci(r.get("ci_lower"), r.get("ci_upper"), decimals),
                                        fmt_num(r.get("df"), 1), fmt_p(r.get("p_value"), prefix=False),
                                        fmt_ci(r.get("ci_lower_adjusted"), r.get("ci_upper_adjusted"), decimals),
                                        fmt_p(r.get("p_value_adjusted"), prefix=False)])
        if rows:
            groups.append((o.name, rows))
    return [table_block(f"All treatment contrasts: difference in {c.effect_measure.replace(' from baseline', '')}, "
                        f"first-named arm minus second",
                        [("Model, visit", "text"), ("Comparison", "text"), ("Estimate", "num"), ("SE", "num"),
                         (f"{c.level} CI", "num"), ("df", "num"), ("p", "num"), (f"{adjusted} CI", "num"),
                         ("Adjusted p", "num")], groups=groups, cls="wide",
                        note=f"{adjusted}: across the comparisons at the same outcome, visit and model.")]
