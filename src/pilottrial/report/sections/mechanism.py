"""Mechanism: the MMRM contrasts of the mechanism outcomes and the correlation of their change with
the change in the primary outcome (descriptive)."""

from __future__ import annotations

from pilottrial.report.format import arm_label, fmt_estimate, fmt_int, fmt_num, fmt_p, text_or_missing, visit_label
from pilottrial.report.sections.blocks import para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.tables import has_columns, select_rows

__all__ = ["mechanism_section"]


def mechanism_section(c: Context) -> list[dict]:
    """Mechanism: MMRM contrasts of the mechanism outcomes and their correlation with the primary outcome."""
    mech = c.t("mechanism")
    outcomes = c.mechanism
    if not outcomes:
        return [para("No mechanism outcomes were declared (outcomes[].role: mechanism).")]
    blocks: list[dict] = []
    rows = []
    for o in outcomes:
        contrasts = select_rows(c.t("contrasts"), outcome=o.name, model="mmrm")
        for r in contrasts.itertuples():
            rows.append([f"{o.name} at {visit_label(r.visit)}",
                         fmt_estimate(r, c.decimals(o.name)[1]), fmt_num(r.df, 1),
                         fmt_p(r.p_value, prefix=False)])
    if rows:
        blocks.append(table_block(f"Mechanism outcomes: {c.treatment_name} minus {c.reference_name} difference in adjusted "
                                  f"mean change (MMRM)", [("Outcome", "text"), (f"Difference ({c.level} CI)", "num"),
                                                          ("df", "num"), ("p", "num")], rows,
                                  note="Each mechanism outcome on its own scale; not adjusted for multiplicity."))
    if has_columns(mech, "mechanism_outcome", "arm", "pearson_r"):
        groups = []
        for o in outcomes:
            sub = select_rows(mech, mechanism_outcome=o.name)
            rows = [[f"{arm_label(r.arm)} at {visit_label(r.visit)}", fmt_int(r.n),
                     fmt_estimate(r, estimate="pearson_r", lower="pearson_ci_lower", upper="pearson_ci_upper"),
                     fmt_p(r.pearson_p, prefix=False),
                     fmt_estimate(r, estimate="spearman_rho", lower="spearman_ci_lower", upper="spearman_ci_upper"),
                     fmt_p(r.spearman_p, prefix=False)] for r in sub.itertuples()]
            if rows:
                primary = text_or_missing(sub.iloc[0].get("primary_outcome"))
                groups.append((f"Change in {o.name} with change in {primary}", rows))
        blocks.append(table_block("Correlation of the change in each mechanism outcome with the change in the primary "
                                  "outcome", [("Arm and visit", "text"), ("n", "num"), ("Pearson r (95% CI)", "num"),
                                              ("p", "num"), ("Spearman ρ (95% CI)", "num"), ("p", "num")],
                                  groups=groups,
                                  note="Descriptive: with 10 to 15 participants per arm the intervals are wide, and a "
                                       "correlation says nothing causal about mediation. The correlation over both arms "
                                  "also carries the difference between the arms."))
    return blocks + c.figures_for("mechanism")
