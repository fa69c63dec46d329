"""Robustness of the primary result: the agreement of each sensitivity analysis with the primary
analysis (:func:`sensitivity_agreement`), the sensitivity section and the missing-data section
(missingness, dropout pattern, multiple imputation, tipping point)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.report.format import (
    MISSING,
    arm_label,
    as_float,
    fmt_est_ci,
    fmt_estimate,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    not_estimable_reason,
    not_estimable_text,
    plural,
    points,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import heading, para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.labels import P_ONLY_ANALYSES, analysis_label, structure_name
from pilottrial.report.sections.tables import first_row, has_columns, mmrm_row, select_rows

__all__ = ["AGREEMENT_DEFINITION", "AGREEMENT_COLUMNS", "sensitivity_agreement", "sensitivity_section",
           "missing_data_section"]

AGREEMENT_DEFINITION = (
    "A sensitivity analysis agrees with the primary analysis (the MMRM) at an outcome and visit when "
    "(1) its estimate has the same direction (sign) as the primary estimate and (2) its conclusion "
    "is unchanged: its {level} confidence interval excludes 0 exactly when the primary interval does. "
    "For the randomization test, which gives a p-value and no interval of its own, the conclusion is "
    "p < {alpha}. An analysis without an estimate or interval cannot be judged (shown as —)."
)
#: Columns of :func:`sensitivity_agreement`.
AGREEMENT_COLUMNS = [
    "outcome", "visit", "analysis", "model", "estimate", "ci_lower", "ci_upper", "p_value",
    "primary_estimate", "primary_ci_lower", "primary_ci_upper", "same_direction", "excludes_zero",
    "primary_excludes_zero", "basis", "agrees",
]


def _excludes_zero(lower: float | None, upper: float | None) -> bool | None:
    if lower is None or upper is None:
        return None
    return lower > 0 or upper < 0


def sensitivity_agreement(config: dict, contrasts: pd.DataFrame, sensitivity: pd.DataFrame,
                          imputation: pd.DataFrame | None = None) -> pd.DataFrame:
    r"""Does each sensitivity analysis agree with the primary analysis?

    For every row of ``sensitivity`` (and of ``imputation``, the multiple-imputation
    contrasts) at a key visit of an efficacy outcome, compare with the primary MMRM contrast
    of the same outcome and visit (``contrasts``, ``model == "mmrm"``).

    Agreement (:data:`AGREEMENT_DEFINITION`): the estimate has the same sign as the primary
    estimate, **and** the conclusion is unchanged -- the confidence interval excludes 0 exactly
    when the primary interval does. For analyses that give only a p-value (the randomization
    test), the conclusion is :math:`p < \alpha`. Missing numbers give ``agrees = <NA>``.

    Parameters
    ----------
    config : dict
        The validated config (``visits.key``, ``analysis.alpha``, ``outcomes``).
    contrasts : DataFrame
        ``contrasts.csv``: ``outcome, model, visit, estimate, ci_lower, ci_upper, p_value``.
    sensitivity : DataFrame
        ``sensitivity.csv`` (the contrast columns plus ``analysis``).
    imputation : DataFrame, optional
        ``multiple_imputation.csv`` (the contrast columns plus ``analysis``).

    Returns
    -------
    DataFrame
        :data:`AGREEMENT_COLUMNS`, one row per outcome x key visit x analysis, outcomes in
        config order (primary first), visits in ``visits.key`` order, analyses in the order
        they first appear (sensitivity, then imputation). ``basis`` is ``"ci"`` or ``"p"``;
        ``agrees`` is a nullable boolean.
    """
    return _agreement(Context(config), contrasts, sensitivity, imputation)


def _agreement(c: Context, contrasts: pd.DataFrame, sensitivity: pd.DataFrame,
               imputation: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`sensitivity_agreement` for the trial of a :class:`Context`."""
    frames = [f for f in (sensitivity, imputation) if isinstance(f, pd.DataFrame) and not f.empty]
    rows = []
    if not frames or contrasts is None or contrasts.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS).astype({"agrees": "boolean"})
    candidates = pd.concat(frames, ignore_index=True)
    analyses = list(dict.fromkeys(candidates["analysis"].astype(str)))
    for outcome in c.efficacy:
        name = outcome.name
        for visit in c.key_visits:
            primary = mmrm_row(contrasts, name, visit)
            if primary is None:
                continue
            p_est = as_float(primary.get("estimate"))
            p_lo, p_hi = as_float(primary.get("ci_lower")), as_float(primary.get("ci_upper"))
            p_excl = _excludes_zero(p_lo, p_hi)
            for analysis in analyses:
                sel = candidates[(candidates["outcome"].astype(str) == name)
                                 & (candidates["visit"].astype(str) == visit)
                                 & (candidates["analysis"].astype(str) == analysis)]
                if sel.empty:
                    continue
                r = sel.iloc[0]
                est = as_float(r.get("estimate"))
                lo, hi = as_float(r.get("ci_lower")), as_float(r.get("ci_upper"))
                p = as_float(r.get("p_value"))
                basis = "p" if analysis in P_ONLY_ANALYSES else "ci"
                same = None if est is None or p_est is None else bool(np.sign(est) == np.sign(p_est))
                if basis == "p":
                    excl = None if p is None else p < c.alpha
                else:
                    excl = _excludes_zero(lo, hi)
                agrees = (None if same is None or excl is None or p_excl is None
                          else bool(same and excl == p_excl))
                rows.append({
                    "outcome": name, "visit": visit, "analysis": analysis, "model": r.get("model"),
                    "estimate": est, "ci_lower": lo, "ci_upper": hi, "p_value": p,
                    "primary_estimate": p_est, "primary_ci_lower": p_lo, "primary_ci_upper": p_hi,
                    "same_direction": same, "excludes_zero": excl, "primary_excludes_zero": p_excl,
                    "basis": basis, "agrees": agrees,
                })
    out = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    for column in ("same_direction", "excludes_zero", "primary_excludes_zero", "agrees"):
        out[column] = out[column].astype("boolean")
    return out


def sensitivity_section(c: Context) -> list[dict]:
    """Sensitivity analyses beside the primary analysis, with their agreement."""
    agreement = _agreement(c, c.t("contrasts"), c.t("sensitivity"), c.t("multiple_imputation"))
    blocks = [para(AGREEMENT_DEFINITION.format(level=c.level, alpha=fmt_num(c.alpha, 2)))]
    if agreement.empty:
        return blocks + [para("No sensitivity analyses were run.")] + c.figures_for("sensitivity")
    judged = agreement["agrees"].dropna()
    differs = agreement[agreement["agrees"].fillna(True) == False]  # noqa: E712 (nullable boolean)
    n_agree, n_differ = int(judged.sum()), int((~judged).sum())
    text = (f"Of {plural(len(agreement), 'comparison')} ({plural(agreement['analysis'].nunique(), 'analysis', 'analyses')}, "
            f"{plural(agreement['outcome'].nunique(), 'outcome')}, {plural(agreement['visit'].nunique(), 'key visit')}), "
            f"{n_agree} {'agrees' if n_agree == 1 else 'agree'} with the primary analysis and {n_differ} "
            f"{'does' if n_differ == 1 else 'do'} not")
    if len(judged) < len(agreement):
        text += f"; {len(agreement) - len(judged)} cannot be judged"
    text += "."
    blocks.append(para(text))
    if len(differs):
        shown = [f"{r.outcome} at {visit_label(r.visit)}: {analysis_label(r.analysis)}" for r in differs.itertuples()]
        blocks.append(para("Conclusions that differ from the primary analysis: " + "; ".join(shown) + "."))
    groups = []
    structure = structure_name(c.analysis.get("covariance", "us"))
    notes = _notes(c.t("sensitivity"), c.t("multiple_imputation"))
    for (outcome, visit), sub in agreement.groupby(["outcome", "visit"], sort=False):
        primary = c.mmrm_row(outcome, visit)
        rows = [[f"Primary: MMRM, {structure} covariance", fmt_estimate(primary),
                 fmt_p(primary.get("p_value"), prefix=False), "reference", {"cls": "primary-row"}]]
        for r in sub.itertuples():
            agrees = r.agrees
            verdict = MISSING if pd.isna(agrees) else ("agrees" if agrees else "DIFFERS")
            estimate = fmt_est_ci(r.estimate, r.ci_lower, r.ci_upper)
            reason = not_estimable_reason({"note": notes.get((str(r.outcome), str(r.visit), str(r.analysis)))})
            if reason is not None and as_float(r.estimate) is None and as_float(r.p_value) is None:
                estimate = not_estimable_text(reason)
            rows.append([analysis_label(r.analysis), estimate, fmt_p(r.p_value, prefix=False), verdict,
                         {"cls": "flag" if verdict == "DIFFERS" else ""}])
        groups.append((f"{outcome} at {visit_label(visit)}", rows))
    blocks.append(table_block("Sensitivity analyses beside the primary analysis, by outcome and key visit",
                              [("Analysis", "text"), (f"Estimate ({c.level} CI)", "ci"), ("p", "num"),
                               ("Agreement with primary", "text")], groups=groups,
                              note="Agreement as defined above. The randomization test reports the MMRM estimate "
                                   "with its own p-value. Hodges-Lehmann: median of the pairwise differences in "
                              "observed change."))
    return blocks + c.figures_for("sensitivity")


def _notes(*tables: pd.DataFrame) -> dict:
    """``{(outcome, visit, analysis): note}`` of the rows of sensitivity and imputation tables."""
    out = {}
    for table in tables:
        if not has_columns(table, "outcome", "visit", "analysis", "note"):
            continue
        for outcome, visit, analysis, note in zip(table["outcome"], table["visit"], table["analysis"], table["note"]):
            out.setdefault((str(outcome), str(visit), str(analysis)), note)
    return out


def missing_data_section(c: Context) -> list[dict]:
    """Missing data: missingness and dropout pattern, multiple imputation and the tipping point."""
    md = c.t("missing_data")
    mi = c.t("multiple_imputation")
    tp = c.t("tipping_point")
    blocks: list[dict] = []
    arms = [c.reference, c.treatment]
    if has_columns(md, "table", "outcome", "arm", "visit"):
        miss = md[md["table"].astype(str) == "missingness"]
        groups = []
        for o in c.outcomes:
            rows = []
            for v in c.post_baseline:
                cells = []
                for arm in arms:
                    r = first_row(miss, outcome=o.name, arm=arm, visit=v)
                    cells.append(MISSING if r is None else
                                 f"{fmt_int(r.get('n_missing'))}/{fmt_int(r.get('n_randomized'))} "
                                 f"({fmt_pct(r.get('pct_missing'), scale=1)})")
                if any(cell != MISSING for cell in cells):
                    rows.append([visit_label(v)] + cells)
            if rows:
                groups.append((o.name, rows))
        blocks.append(table_block("Missing scores by outcome, visit and arm",
                                  [("Visit", "text"), (f"{c.reference_name}: missing/randomized (%)", "num"),
                                   (f"{c.treatment_name}: missing/randomized (%)", "num")], groups=groups,
                                  note="Visits at which an outcome was not scheduled are left out."))
        drop = md[md["table"].astype(str) == "dropout"]
        if len(drop):
            rows = []
            for o in c.outcomes:
                for arm in arms:
                    sub = select_rows(drop, outcome=o.name, arm=arm)
                    if sub.empty:
                        continue
                    inter = as_float(sub["n_intermittent"].astype(float).sum()) if "n_intermittent" in sub else None
                    last = {str(r.visit): r.n_last_observed for r in sub.itertuples()}
                    rows.append([f"{o.name}, {arm_label(arm)}"] + [fmt_int(last.get(v)) for v in c.visit_order]
                                + [fmt_int(inter)])
            blocks.append(table_block("Last visit with a score (dropout pattern)",
                                      [("Outcome, arm", "text")] + [(visit_label(v), "num") for v in c.visit_order]
                                      + [("Intermittent", "num")], rows,
                                      note="Participants by the last visit at which they had a score; intermittent: "
                                           "a missing visit followed by an observed one.",
                                      cls="wide" if len(c.visit_order) > 6 else ""))
    if has_columns(mi, "outcome", "visit", "analysis"):
        groups = []
        for o in c.efficacy:
            rows = []
            for v in c.key_visits:
                primary = c.mmrm_row(o.name, v)
                if primary is not None:
                    rows.append(["MMRM (primary, MAR)", fmt_estimate(primary),
                                 fmt_p(primary.get("p_value"), prefix=False), MISSING, {"cls": "primary-row"}])
                for r in select_rows(mi, outcome=o.name, visit=v).itertuples():
                    rows.append([analysis_label(str(r.analysis)), fmt_estimate(r),
                                 fmt_p(r.p_value, prefix=False), fmt_num(getattr(r, "fraction_missing_info", None), 2)])
                if rows:
                    groups.append((f"{o.name} at {visit_label(v)}", rows))
                    rows = []
        imputations = [as_float(x) for x in mi["imputations"]] if "imputations" in mi else []
        imputations = [x for x in imputations if x is not None]
        blocks.append(heading("Multiple imputation"))
        blocks.append(table_block("Multiple imputation under MAR and reference-based assumptions",
                                  [("Analysis", "text"), (f"Estimate ({c.level} CI)", "ci"), ("p", "num"),
                                   ("Fraction of missing information", "num")], groups=groups,
                                  note="ANCOVA of each completed data set, pooled by Rubin's rules"
                                       + (f" ({plural(max(imputations), 'imputation')})." if imputations else ".")))
    if has_columns(tp, "outcome", "delta", "conclusion"):
        blocks.append(heading("Tipping point"))
        rows = []
        sentences = []
        for o in c.efficacy:
            sub = select_rows(tp, outcome=o.name)
            if sub.empty:
                continue
            sub = sub.sort_values("delta", kind="mergesort")
            start = sub.iloc[0]
            tip = as_float(start.get("tipping_delta"))
            visit = str(start.get("visit"))
            dmax = as_float(pd.to_numeric(sub["delta"], errors="coerce").max())
            if not any(as_float(x) is not None for x in sub["estimate"]):
                reason = not_estimable_reason(start)
                rows.append([o.name, visit_label(visit), not_estimable_text(reason), MISSING, MISSING, MISSING])
                continue
            if tip is None:
                at = sub.iloc[-1]
                verdict = f"remains unchanged up to δ = {points(dmax)} (the largest examined)"
            else:
                at = sub[sub["delta"].astype(float) >= tip].iloc[0]
                verdict = f"changes to '{text_or_missing(at.get('conclusion'))}' at δ = {points(tip)}"
            rows.append([o.name, visit_label(visit), text_or_missing(start.get("conclusion")), verdict,
                         fmt_num(at.get("delta"), 0),
                         fmt_est_ci(at.get("estimate"), at.get("ci_lower"), at.get("ci_upper"))])
            sentences.append(f"{o.name} at {visit_label(visit)}: the conclusion at δ = 0 "
                             f"('{text_or_missing(start.get('conclusion'))}') {verdict}")
        if sentences:
            blocks.append(para(f"Shifting the imputed {c.treatment}-arm values in the unfavourable direction by δ "
                               f"points: " + "; ".join(sentences) + "."))
        blocks.append(table_block("Delta-adjusted tipping-point analysis (MAR imputation, last key visit)",
                                  [("Outcome", "text"), ("Visit", "text"), ("Conclusion at δ = 0", "text"),
                                   ("Tipping point", "text"), ("δ shown", "num"), (f"Estimate at δ ({c.level} CI)", "ci")],
                                  rows, note="Conclusion: 'significant benefit', 'not significant' or 'significant "
                                             "harm' by whether the interval excludes 0."))
    blocks += c.figures_for("missing-data")
    return blocks or [para("No missing-data tables were produced.")]
