"""Harms: participants with each adverse event by arm, and the dissociation scale by arm."""

from __future__ import annotations

from pilottrial.report.format import (
    arm_label,
    as_float,
    fmt_ci,
    fmt_est_ci,
    fmt_estimate,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    not_estimable_reason,
    not_estimable_text,
    percentage_points,
    text_or_missing,
)
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
            rd = percentage_points(r.risk_difference, r.rd_ci_lower, r.rd_ci_upper)
            reason = not_estimable_reason(r)
            rows.append([text_or_missing(r.term),
                         f"{fmt_int(r.n_reference)}/{fmt_int(r.N_reference)} ({fmt_pct(r.pct_reference, scale=1)})",
                         f"{fmt_int(r.events_reference)}",
                         f"{fmt_int(r.n_treatment)}/{fmt_int(r.N_treatment)} ({fmt_pct(r.pct_treatment, scale=1)})",
                         f"{fmt_int(r.events_treatment)}",
                         not_estimable_text(reason) if reason is not None and rd[0] is None else fmt_est_ci(*rd, 1),
                         fmt_p(r.fisher_p, prefix=False)])
        first = ae.iloc[0]
        blocks.append(para(
            f"{fmt_int(first.n_treatment)} of {fmt_int(first.N_treatment)} {c.treatment_name} participants "
            f"({fmt_pct(first.pct_treatment, scale=1)}) and {fmt_int(first.n_reference)} of "
            f"{fmt_int(first.N_reference)} {c.reference_name} participants ({fmt_pct(first.pct_reference, scale=1)}) "
            f"had {text_or_missing(first.term)}."))
        blocks.append(table_block("Adverse events: participants with each event by arm",
                                  [("Event", "text"), (f"{c.reference_name}: n/N (%)", "num"), ("events", "num"),
                                   (f"{c.treatment_name}: n/N (%)", "num"), ("events", "num"),
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
            rows.append([arm_label(arm), fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), 1)} ({fmt_num(r.get('sd'), 1)})",
                         f"{fmt_num(r.get('median'), 1)} [{fmt_num(r.get('q1'), 1)}, {fmt_num(r.get('q3'), 1)}]",
                         f"{fmt_num(r.get('minimum'), 0)} to {fmt_num(r.get('maximum'), 0)}"])
        diffs = dis[dis["statistic"].astype(str) != "summary"]
        drows = [[text_or_missing(r.statistic), fmt_estimate(r, 1), fmt_p(r.p_value, prefix=False)]
                 for r in diffs.itertuples()]
        welch = diffs.iloc[0] if len(diffs) else None
        if welch is not None and as_float(welch.get("estimate")) is None:
            reason = not_estimable_reason(welch)
            blocks.append(para(f"{name} dissociation at {when}: the difference between the arms could not be "
                               f"estimated" + (f" ({reason})." if reason else ".")))
        elif welch is not None:
            blocks.append(para(f"{name} dissociation at {when}: the mean score was "
                               f"{fmt_num(welch.get('estimate'), 1)} points higher with {c.treatment_name} "
                               f"({c.level} CI {fmt_ci(welch.get('ci_lower'), welch.get('ci_upper'), 1)})."
                               if (as_float(welch.get("estimate")) or 0) >= 0 else
                               f"{name} dissociation at {when}: the mean score was "
                               f"{fmt_num(abs(as_float(welch.get('estimate'))), 1)} points lower with {c.treatment_name} "
                               f"({c.level} CI {fmt_ci(welch.get('ci_lower'), welch.get('ci_upper'), 1)})."))
        blocks.append(table_block(f"{name} at {when} by arm", [("Arm", "text"), ("n", "num"), ("Mean (SD)", "num"),
                                                               ("Median [Q1, Q3]", "num"), ("Range", "num")], rows))
        if drows:
            blocks.append(table_block(f"{name}: {c.treatment_name} minus {c.reference_name}",
                                      [("Method", "text"), (f"Difference ({c.level} CI)", "num"), ("p", "num")], drows))
    blocks += c.figures_for("harms")
    return blocks
