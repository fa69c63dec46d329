"""Harms: participants with each adverse event by arm, and the dissociation scale by arm."""

from __future__ import annotations

from pilottrial.report.format import as_float, fmt_ci, fmt_est_ci, fmt_int, fmt_num, fmt_p, fmt_pct, text_or_missing
from pilottrial.report.sections.blocks import para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.tables import first_row, has_columns

__all__ = ["harms_section"]


def harms_section(c: Context) -> list[dict]:
    """Harms: adverse events and the dissociation scale by arm."""
    ae = c.t("adverse_events")
    dis = c.t("dissociation")
    blocks: list[dict] = []
    if not c.trial.section("harms") and ae.empty and dis.empty:
        return [para("No harms data were given (harms: in the config).")]
    if has_columns(ae, "term"):
        rows = []
        for r in ae.itertuples():
            rd = [100 * x if x is not None else None for x in (as_float(r.risk_difference), as_float(r.rd_ci_lower),
                                                               as_float(r.rd_ci_upper))]
            rows.append([str(r.term),
                         f"{fmt_int(r.n_reference)}/{fmt_int(r.N_reference)} ({fmt_pct(r.pct_reference, scale=1)})",
                         f"{fmt_int(r.events_reference)}",
                         f"{fmt_int(r.n_treatment)}/{fmt_int(r.N_treatment)} ({fmt_pct(r.pct_treatment, scale=1)})",
                         f"{fmt_int(r.events_treatment)}",
                         fmt_est_ci(rd[0], rd[1], rd[2], 1), fmt_p(r.fisher_p, prefix=False)])
        first = ae.iloc[0]
        blocks.append(para(
            f"{fmt_int(first.n_treatment)} of {fmt_int(first.N_treatment)} {c.treatment} participants "
            f"({fmt_pct(first.pct_treatment, scale=1)}) and {fmt_int(first.n_reference)} of "
            f"{fmt_int(first.N_reference)} {c.reference} participants ({fmt_pct(first.pct_reference, scale=1)}) "
            f"had {str(first.term)}."))
        blocks.append(table_block("Adverse events: participants with each event by arm",
                                  [("Event", "text"), (f"{c.reference}: n/N (%)", "num"), ("events", "num"),
                                   (f"{c.treatment}: n/N (%)", "num"), ("events", "num"),
                                   ("Risk difference, % points (95% CI)", "num"), ("Fisher p", "num")], rows,
                                  note="Denominators: participants randomized to each arm; a participant not in the "
                                       "adverse-event file had no adverse event. Newcombe hybrid-score intervals."))
    if has_columns(dis, "arm", "statistic"):
        name = text_or_missing(dis.iloc[0].get("scale"))
        when = text_or_missing(dis.iloc[0].get("timepoint"))
        rows = []
        for arm in (c.reference, c.treatment):
            r = first_row(dis, arm=arm, statistic="summary")
            if r is None:
                continue
            rows.append([arm, fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), 1)} ({fmt_num(r.get('sd'), 1)})",
                         f"{fmt_num(r.get('median'), 1)} [{fmt_num(r.get('q1'), 1)}, {fmt_num(r.get('q3'), 1)}]",
                         f"{fmt_num(r.get('minimum'), 0)} to {fmt_num(r.get('maximum'), 0)}"])
        diffs = dis[dis["statistic"].astype(str) != "summary"]
        drows = [[str(r.statistic), fmt_est_ci(r.estimate, r.ci_lower, r.ci_upper, 1), fmt_p(r.p_value, prefix=False)]
                 for r in diffs.itertuples()]
        welch = diffs.iloc[0] if len(diffs) else None
        if welch is not None:
            blocks.append(para(f"{name} dissociation at {when}: the mean score was "
                               f"{fmt_num(welch.get('estimate'), 1)} points higher with {c.treatment} "
                               f"({c.level} CI {fmt_ci(welch.get('ci_lower'), welch.get('ci_upper'), 1)})."
                               if (as_float(welch.get("estimate")) or 0) >= 0 else
                               f"{name} dissociation at {when}: the mean score was "
                               f"{fmt_num(abs(as_float(welch.get('estimate'))), 1)} points lower with {c.treatment} "
                               f"({c.level} CI {fmt_ci(welch.get('ci_lower'), welch.get('ci_upper'), 1)})."))
        blocks.append(table_block(f"{name} at {when} by arm", [("Arm", "text"), ("n", "num"), ("Mean (SD)", "num"),
                                                               ("Median [Q1, Q3]", "num"), ("Range", "num")], rows))
        if drows:
            blocks.append(table_block(f"{name}: {c.treatment} minus {c.reference}",
                                      [("Method", "text"), (f"Difference ({c.level} CI)", "num"), ("p", "num")], drows))
    blocks += c.figures_for("harms")
    return blocks
