"""Participants: the flow through the trial (CONSORT), the baseline data (Table 1) and the
feasibility measures with the pre-specified progression criteria."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.report.format import (
    MISSING,
    arm_label,
    as_float,
    fmt_ci,
    fmt_int,
    fmt_num,
    fmt_pct,
    not_estimable_reason,
    not_estimable_text,
    plural,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import heading, para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.tables import first_row, has_columns, select_rows, truthy

__all__ = ["flow_section", "baseline_section", "feasibility_section"]


def flow_section(c: Context) -> list[dict]:
    """Participant flow (CONSORT): screened, eligible, randomized, treated and assessed at each visit."""
    feas = c.t("feasibility")
    blocks: list[dict] = []
    blocks += c.figures_for("flow")

    def value(measure, arm="all", visit=None):
        if not has_columns(feas, "measure", "arm"):
            return None
        rows = select_rows(feas, measure=measure, arm=arm)
        if visit is not None and "visit" in rows.columns:
            rows = rows[rows["visit"].astype(str) == str(visit)]
        return rows.iloc[0] if len(rows) else None

    def count(row, column="value"):
        return as_float(row.get(column)) if row is not None else None

    screened = count(value("screened"))
    eligible = count(value("eligible"))
    randomized = c.n_total
    sentence = []
    if screened is not None and eligible is not None:
        sentence.append(f"Of {fmt_int(screened)} people screened, {fmt_int(eligible)} "
                        f"({fmt_pct(eligible / screened if screened else None)}) were eligible")
    if sentence:
        sentence.append(f"{fmt_int(randomized)} were randomized ({c.arm_n_text()})")
        text = sentence[0] + " and " + sentence[1]
    else:
        text = f"{plural(randomized, 'participant')} {'was' if randomized == 1 else 'were'} randomized ({c.arm_n_text()})"
    last_key = c.key_visits[-1] if c.key_visits else None
    if last_key is not None:
        kept = value("retention", "all", last_key)
        if kept is not None:
            text += (f"; {fmt_int(count(kept, 'numerator'))} of {fmt_int(count(kept, 'denominator'))} "
                     f"({fmt_pct(count(kept, 'proportion'))}) were assessed at {visit_label(last_key)}")
    blocks.append(para(text + "."))

    arms = list(c.arms)
    by_arm = [MISSING] * len(arms)  # a stage counted for the trial only
    rows = []
    if screened is not None:
        rows.append(["Screened", *by_arm, fmt_int(screened)])
    if eligible is not None:
        rows.append(["Eligible", *by_arm, fmt_int(eligible)])
    rows.append(["Randomized"] + [fmt_int(c.n_by_arm.get(a)) for a in arms] + [fmt_int(randomized)])
    received = [value("received_infusion", a) for a in arms + ["all"]]
    if any(r is not None for r in received):
        rows.append(["Received the allocated intervention"]
                    + [f"{fmt_int(count(r, 'numerator'))} / {fmt_int(count(r, 'denominator'))}" if r is not None
                       else MISSING for r in received])
    for visit in c.post_baseline:
        kept = [value("retention", a, visit) for a in arms + ["all"]]
        if any(r is not None for r in kept):
            rows.append([f"Assessed at {visit_label(visit)}"]
                        + [f"{fmt_int(count(r, 'numerator'))} ({fmt_pct(count(r, 'proportion'))})" if r is not None
                           else MISSING for r in kept])
    models = c.t("models")
    if c.primary is not None and has_columns(models, "outcome", "model", "n_participants"):
        row = first_row(models, outcome=c.primary.name, model="mmrm")
        if row is not None:
            rows.append([f"Included in the primary MMRM ({c.primary.name})", *by_arm,
                         fmt_int(row.get("n_participants"))])
    note = ""
    if received[0] is not None and "assumed" in str(received[0].get("note", "")):
        note = "Receipt of the intervention is " + str(received[0].get("note")) + "."
    blocks.append(table_block("Participant flow (CONSORT)", [("Stage", "text"), *c.arm_columns(), ("Total", "num")],
                              rows, note=note))
    return blocks


def _table_one(c: Context, table: pd.DataFrame) -> dict:
    """Table 1 from ``table_one.csv`` (:func:`pilottrial.report.figures.trial.table_one`)."""
    arms = [a for a in c.arms if a in table.columns]
    smds = [a for a in table.columns if a == "smd" or (c.multi_arm and str(a).startswith("smd_"))]
    others = [a for a in table.columns if a not in {"variable", "level", "statistic", "overall", *smds, *arms}]
    arms += others
    rows = []
    for r in table.itertuples(index=False):
        row = r._asdict() if hasattr(r, "_asdict") else dict(zip(table.columns, r))
        variable, level = text_or_missing(row.get("variable")), text_or_missing(row.get("level"))
        statistic = text_or_missing(row.get("statistic"))
        if variable == "n":
            label = "Participants randomized"
        elif level == MISSING:
            label = f"{variable}, {statistic}"
        else:
            label = f"    {level}" if level != "missing" else "    missing, n"
        cells = [text_or_missing(row.get(a)) for a in arms]
        smd = [as_float(row.get(name)) for name in smds] if c.multi_arm else [as_float(row.get("smd"))]
        rows.append([label.strip()] + cells + [text_or_missing(row.get("overall"))]
                    + [fmt_num(abs(x), 2) if x is not None else "" for x in smd]
                    + [{"cls": "level" if label.startswith(" ") else ""}])
    if c.multi_arm:  # one SMD column per comparison, named by its arms
        names = {f"smd_{x.name}": x for x in c.comparisons}
        smd_columns = [(f"|SMD| {names[s].treatment} vs {names[s].reference}" if s in names else f"|{s}|", "num")
                       for s in smds]
        return table_block("Baseline characteristics by arm (Table 1)",
                           [("Characteristic", "text")] + [(arm_label(a), "num") for a in arms] + [("Overall", "num")]
                           + smd_columns, rows, cls="wide",
                           note="Mean (SD), median [IQR] or n (%). |SMD|: absolute standardized mean difference "
                                "between the two arms named, a description of chance imbalance; no tests are made "
                                "(CONSORT item 15).")
    columns = [("Characteristic", "text")] + [(arm_label(a), "num") for a in arms] + [("Overall", "num"), ("|SMD|", "num")]
    return table_block("Baseline characteristics by arm (Table 1)", columns, rows,
                       note="Mean (SD), median [IQR] or n (%). |SMD|: absolute standardized mean difference between the "
                            "arms, a description of chance imbalance; no tests are made (CONSORT item 15).")


def baseline_section(c: Context) -> list[dict]:
    """Baseline data: Table 1 when it was made, else the baseline scores by arm."""
    blocks: list[dict] = list(c.figures_for("baseline"))
    if not c.t("table_one").empty:
        return blocks + [_table_one(c, c.t("table_one"))]
    desc = c.t("descriptives")
    base = c.baseline
    if not has_columns(desc, "outcome", "arm", "visit", "mean") or base is None:
        return blocks + [para("No baseline descriptives were produced.")]
    arms = list(c.arms)
    rows = []
    for o in c.outcomes:
        cells = [o.name]
        for arm in arms:
            r = first_row(desc, outcome=o.name, arm=arm, visit=base)
            if r is None:
                cells += [MISSING, MISSING, MISSING]
                continue
            d = c.decimals(o.name)[0]
            cells += [fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), d)} ({fmt_num(r.get('sd'), d)})",
                      f"{fmt_num(r.get('median'), d)} [{fmt_num(r.get('q1'), d)}, {fmt_num(r.get('q3'), d)}]"]
        rows.append(cells)
    cols = [("Outcome", "text")]
    for _arm in arms:
        cols += [("n", "num"), ("Mean (SD)", "num"), ("Median [Q1, Q3]", "num")]
    blocks.append(table_block(f"Baseline scores by arm ({visit_label(base)})", cols, rows,
                              spanners=[("", 1)] + [(f"{arm_label(a)} (n = {fmt_int(c.n_by_arm.get(a))})", 3)
                                                    for a in arms],
                              note="Baseline differences between randomized arms are not tested (CONSORT): any "
                                   "difference is due to chance."))
    return blocks


def feasibility_section(c: Context) -> list[dict]:
    """Feasibility measures by arm and the pre-specified progression criteria."""
    feas = c.t("feasibility")
    prog = c.t("progression")
    blocks: list[dict] = []
    if not has_columns(feas, "measure", "arm"):
        blocks.append(para("No feasibility table was produced."))
    else:
        labels = {"eligibility_rate": "Eligible among screened", "consent_rate": "Randomized among eligible",
                  "randomized": "Share of those randomized", "recruitment_per_month": "Randomized per month",
                  "received_infusion": "Received the allocated intervention", "retention": "Retention",
                  "completeness": "Data completeness"}
        arms = [*c.arms, "all"]
        # without a screening log there is nothing to estimate them from: say so once, not per row
        screened = bool(c.trial.section("feasibility").get("screening_log"))
        unscreened = set() if screened else {"eligibility_rate", "consent_rate", "recruitment_per_month"}
        keys = []
        for r in feas.itertuples():
            measure = str(r.measure)
            if measure in unscreened:
                continue
            visit = text_or_missing(getattr(r, "visit", None))
            if measure in labels and (measure, visit) not in keys:
                keys.append((measure, visit))
        rows = []
        for measure, visit in keys:
            what = labels[measure] + ("" if visit == MISSING else
                                      (", all visits" if visit == "all" else f" at {visit_label(visit)}"))
            cells = []
            for arm in arms:
                sel = select_rows(feas, measure=measure, arm=arm)
                if "visit" in sel.columns and visit != MISSING:
                    sel = sel[sel["visit"].astype(str) == visit]
                if sel.empty or (measure == "randomized" and arm == "all"):
                    cells.append(MISSING)
                    continue
                r = sel.iloc[0]
                reason = not_estimable_reason(r)
                if reason is not None and as_float(r.get("value")) is None and as_float(r.get("proportion")) is None:
                    cells.append(not_estimable_text(reason))
                elif measure == "recruitment_per_month":
                    cells.append(f"{fmt_num(r.value, 2)} ({fmt_ci(r.ci_lower, r.ci_upper)}); "
                                 f"{fmt_int(r.numerator)} in {fmt_int(r.denominator)} months")
                else:
                    cells.append(f"{fmt_int(r.numerator)}/{fmt_int(r.denominator)}, {fmt_pct(r.proportion)} "
                                 f"({fmt_ci(100 * (as_float(r.ci_lower) or np.nan), 100 * (as_float(r.ci_upper) or np.nan), 1)})")
            rows.append([what] + cells)
        blocks.append(table_block("Feasibility measures", [("Measure", "text"), *c.arm_columns(), ("All", "num")], rows,
                                  note=f"n/N, percentage ({c.level} Wilson interval, %); recruitment: mean randomized per "
                                       f"month with an exact Poisson interval. Completeness: observed/expected scores of "
                                  f"the outcomes scheduled at the visit.", cls="wide"))
        if not screened:
            blocks.append(para("No screening log was given (feasibility.screening_log), so eligibility, consent "
                               "and recruitment rates are not reported."))
    if has_columns(prog, "name", "threshold", "observed", "met"):
        rows = []
        for r in prog.itertuples():
            rate = str(r.metric) != "recruitment_per_month"
            shown = (lambda x: fmt_pct(x)) if rate else (lambda x: fmt_num(x, 2))
            confident = truthy(getattr(r, "met_with_confidence", None))
            reason = not_estimable_reason(r)
            observed = (not_estimable_text(reason) if reason is not None and as_float(r.observed) is None else
                        f"{shown(r.observed)} ({shown(r.ci_lower)} to {shown(r.ci_upper)})")
            rows.append([text_or_missing(r.name), shown(r.threshold), observed,
                         text_or_missing(r.met), "yes" if confident else ("no" if confident is False else MISSING),
                         {"cls": "flag" if str(r.met) != "met" else ""}])
        blocks.append(heading("Progression criteria"))
        blocks.append(table_block("Pre-specified progression criteria", [
            ("Criterion", "text"), ("Threshold", "num"), (f"Observed ({c.level} CI)", "num"),
            ("Met (point estimate)", "text"), ("Whole CI at or above threshold", "text")], rows,
            note="A criterion met by its point estimate but not by its whole interval is met with uncertainty; "
                 "a pilot is usually too small for more."))
    blocks += c.figures_for("feasibility")
    return blocks
