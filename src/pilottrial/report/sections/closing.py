"""The discussion part: planning the definitive trial (sample sizes), data warnings and
limitations, each generated from the config and the result tables."""

from __future__ import annotations

import pandas as pd

from pilottrial.report.format import (
    MISSING,
    arm_label,
    as_float,
    fmt_ci,
    fmt_est_ci,
    fmt_int,
    fmt_num,
    fmt_pct,
    not_estimable_reason,
    plural,
    points,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import bullets, para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.labels import analysis_label, join_words, structure_name
from pilottrial.report.sections.tables import first_row, has_columns, select_rows, truthy

__all__ = ["data_warnings", "limitations", "planning_section", "warnings_section", "limitations_section"]


_EFFECT_SOURCES = {"mcid": "the MCID", "pilot": "the pilot estimate",
                   "pilot_conservative": "the conservative bound of the pilot's confidence interval"}


def planning_section(c: Context) -> list[dict]:
    """Planning the definitive trial: the smallest n per arm for each target power and effect,
    by simulation with the pilot's MMRM beside the analytic approximations (sample_size.csv)."""
    sizes = c.t("sample_size")
    if not has_columns(sizes, "effect_source", "effect", "target_power", "method", "n_per_arm"):
        return []
    settings = c.trial.section("power")
    outcome = settings.get("outcome") or (c.primary.name if c.primary is not None else "the primary outcome")
    visit = settings.get("visit") or (c.key_visits or [""])[-1]
    blocks = [para(
        f"From the pilot's primary MMRM ({outcome}) the simulations take the covariance of the change across "
        f"visits, the baseline distribution and slope, and each arm's dropout, and set the {c.treatment_name} minus "
        f"{c.reference_name} difference at {visit_label(visit)} to each target below. Every simulated trial "
        f"({fmt_int(settings.get('n_sims', 1000))} per sample size) is analysed with the same MMRM (unstructured "
        f"covariance, REML, Satterthwaite df); power is the share of trials whose {c.level} CI excludes no "
        f"difference. The analytic approximations are those of Lu, Luo and Chen (2008) for an MMRM with dropout "
        f"and the two-sample t test." + (f" The pilot's variance was inflated to its upper confidence limit "
                                          f"({settings['variance_inflation']})." if settings.get("variance_inflation")
                                          not in (None, "none") else ""))]
    rows, sentences = [], []
    for (source, effect), group in sizes.groupby(["effect_source", "effect"], sort=False):
        by = {(r.method, float(r.target_power)): r for r in group.itertuples()}
        powers = sorted({float(p) for p in group["target_power"]})
        for power in powers:
            sim, lu, t = by.get(("simulation", power)), by.get(("analytic_mmrm", power)), by.get(("analytic_t", power))
            reached = sim is not None and str(getattr(sim, "reached", "yes")) == "yes"
            rows.append([_EFFECT_SOURCES.get(source, str(source)), fmt_num(effect, 1), f"{100 * power:.0f}%",
                         (fmt_int(sim.n_per_arm) if reached else "not reached") if sim is not None else MISSING,
                         fmt_est_ci(sim.power, sim.mc_lower, sim.mc_upper) if sim is not None else MISSING,
                         fmt_int(lu.n_per_arm) if lu is not None else MISSING,
                         fmt_int(t.n_per_arm) if t is not None else MISSING])
        sim80 = by.get(("simulation", powers[0])) if powers else None
        if sim80 is not None and str(getattr(sim80, "reached", "yes")) == "yes" and as_float(effect) is not None:
            sentences.append(
                f"To detect a difference of {fmt_num(abs(float(effect)), 1)} points ({_EFFECT_SOURCES.get(source, source)}) "
                f"with {100 * powers[0]:.0f}% power, a definitive trial needs about {fmt_int(sim80.n_per_arm)} "
                f"participants per arm by simulation"
                + (f" ({fmt_int(by[('analytic_mmrm', powers[0])].n_per_arm)} by the MMRM approximation)"
                   if ("analytic_mmrm", powers[0]) in by else "") + ".")
    if sentences:
        blocks.append(bullets(sentences))
    blocks.append(table_block("Smallest sample size per arm reaching each target power",
                              [("Target difference", "text"), ("Difference (points)", "num"), ("Power", "num"),
                               ("n per arm (simulation)", "num"), ("Power at that n (95% MC CI)", "num"),
                               ("n per arm (Lu et al. 2008)", "num"), ("n per arm (t test)", "num")], rows,
                              note="Simulated power comes with its Monte Carlo interval; the grid of sample sizes is "
                                   "in the config (power.n_per_arm), so the smallest n is the first grid point "
                              "reaching the target."))
    return blocks + c.figures_for("planning")


def data_warnings(config: dict, tables: dict) -> list[str]:
    """Warnings about the data and the fits, generated from the result tables.

    Covers: a covariance structure other than the one asked for (non-convergence), a contrast
    or sensitivity analysis that could not be estimated, more than 10% of participants of an
    arm missing at a key visit, a large fraction of missing information in the imputations,
    zero cells in the responder tables, approximate Hodges-Lehmann coverage with ties, and
    assumptions the feasibility table had to make.
    """
    return _warning_items(Context(config, tables))


def _warning_items(c: Context) -> list[str]:
    out: list[str] = []
    analysis = c.analysis
    wanted = str(analysis.get("covariance", "us"))
    models = c.t("models")
    if has_columns(models, "outcome", "model", "covariance"):
        for r in models[models["model"].astype(str) == "mmrm"].itertuples():
            if text_or_missing(r.covariance) == MISSING:
                reason = not_estimable_reason(r)
                out.append(f"{text_or_missing(r.outcome)}: no MMRM could be fitted"
                           + (f" ({reason})." if reason else "."))
            elif str(r.covariance) != wanted:
                out.append(f"{text_or_missing(r.outcome)}: the {structure_name(wanted)} MMRM did not converge; the "
                           f"{structure_name(r.covariance)} structure was used instead.")
    contrasts = c.t("contrasts")
    if has_columns(contrasts, "outcome", "model", "visit", "estimate", "ci_lower"):
        found: dict[tuple, list[str]] = {}
        for r in contrasts.itertuples():
            if as_float(r.estimate) is None or as_float(r.ci_lower) is None:
                reason = not_estimable_reason(r) or c.model_reason(str(r.outcome), str(r.model))
                key = (text_or_missing(r.outcome), _MODEL_NAMES.get(str(r.model), text_or_missing(r.model)), reason)
                found.setdefault(key, []).append(str(r.visit))
        for (outcome, model, reason), visits in found.items():
            out.append(f"{outcome}, {model} {_at_visits(c, visits)}: the "
                       f"{'contrast' if len(visits) == 1 else 'contrasts'} could not be estimated"
                       + (f" ({reason})." if reason else "."))
    sens = c.t("sensitivity")
    if has_columns(sens, "outcome", "visit", "estimate", "analysis"):
        found = {}
        for r in sens.itertuples():
            if as_float(r.estimate) is None:
                reason = not_estimable_reason(r)
                note = reason if reason is not None else text_or_missing(getattr(r, "note", None))
                key = (text_or_missing(r.outcome), analysis_label(str(r.analysis)), note)
                found.setdefault(key, []).append(str(r.visit))
        for (outcome, label, note), visits in found.items():
            out.append(f"{outcome} {_at_visits(c, visits)}: {label} could not be estimated"
                       + (f" ({note})." if note and note != MISSING else "."))
    out += _not_estimable_items(c)
    md = c.t("missing_data")
    if has_columns(md, "table", "pct_missing"):
        miss = md[md["table"].astype(str) == "missingness"]
        for v in c.key_visits:
            same: dict[str, list[str]] = {}
            for o in c.efficacy:
                parts = []
                heavy = False
                for arm in c.arms:
                    r = first_row(miss, outcome=o.name, arm=arm, visit=v)
                    if r is None:
                        continue
                    pct = as_float(r.get("pct_missing"))
                    heavy = heavy or (pct is not None and pct > 10)
                    parts.append(f"{fmt_int(r.get('n_missing'))}/{fmt_int(r.get('n_randomized'))} "
                                 f"({fmt_pct(pct, scale=1)}) {arm_label(arm)}")
                if heavy:
                    same.setdefault(", ".join(parts), []).append(o.name)
            for parts, names in same.items():
                out.append(f"{join_words(names)} at {visit_label(v)}: more than 10% of an arm missing ({parts}).")
    mi = c.t("multiple_imputation")
    if has_columns(mi, "fraction_missing_info"):
        high = mi[mi["fraction_missing_info"].astype(float) > 0.3]
        for r in high.itertuples():
            out.append(f"{r.outcome} at {visit_label(r.visit)}, {analysis_label(str(r.analysis))}: fraction of "
                       f"missing information {fmt_num(r.fraction_missing_info, 2)}.")
    resp = c.t("responders")
    if has_columns(resp, "or_note"):
        for r in resp.itertuples():
            if "zero cell" in str(r.or_note):
                out.append(f"{r.outcome} at {visit_label(r.visit)}, {r.definition}: a zero cell; the odds ratio uses "
                           f"the Haldane-Anscombe correction (0.5 added to each cell).")
    if has_columns(sens, "note") and sens["note"].astype(str).str.contains("coverage approximate").any():
        out.append("Hodges-Lehmann intervals: tied values, so their coverage is approximate.")
    feas = c.t("feasibility")
    if has_columns(feas, "note"):
        for note in dict.fromkeys(feas["note"].astype(str)):
            if note.startswith("assumed"):
                out.append("Feasibility: " + note + ".")
    return out


_MODEL_NAMES = {"mmrm": "MMRM", "lmm": "LMM (random intercept)"}
#: Tables whose not-estimable rows are listed among the data warnings (the contrasts, the sensitivity
#: analyses and the fits have their own items; the posterior and the adjusted p-values follow the
#: contrasts).
_LISTED = (("multiple_imputation", "multiple imputation", "estimate"),
           ("tipping_point", "tipping-point analysis", "estimate"),
           ("effect_sizes", "standardized effect size", "estimate"),
           ("responders", "risk difference of the responder analysis", "risk_difference"),
           ("mechanism", "mechanism correlation", "pearson_r"))


def _at_visits(c: Context, visits: list[str]) -> str:
    """``"at week 2 and week 6"``; ``"at every key visit"`` / ``"at every post-baseline visit"`` for long lists."""
    if len(visits) > 3 and set(visits) == set(c.post_baseline):
        return "at every post-baseline visit"
    if len(visits) > 3 and set(visits) == set(c.key_visits):
        return "at every key visit"
    return "at " + join_words([visit_label(v) for v in visits])


def _not_estimable_items(c: Context) -> list[str]:
    """One warning per table, outcome and reason for the rows marked not estimable, with their visits."""
    out = []
    for name, label, estimate in _LISTED:
        table = c.t(name)
        if table.empty:
            continue
        outcome_column = "outcome" if "outcome" in table.columns else "mechanism_outcome"
        found: dict[tuple, list[str]] = {}
        for _, row in table.iterrows():
            reason = not_estimable_reason(row)
            if reason is None or as_float(row.get(estimate)) is not None:
                continue
            key = (text_or_missing(row.get(outcome_column)), reason)
            visit = text_or_missing(row.get("visit"))
            visits = found.setdefault(key, [])
            if visit != MISSING and visit not in visits:
                visits.append(visit)
        for (outcome, reason), visits in found.items():
            where = f" {_at_visits(c, visits)}" if visits else ""
            out.append(f"{outcome}{where}: the {label} could not be estimated" + (f" ({reason})." if reason else "."))
    return out


def limitations(config: dict, tables: dict) -> list[str]:
    """The limitations paragraph items, generated from the config and the tables."""
    return _limitation_items(Context(config, tables))


def _limitation_items(c: Context) -> list[str]:
    items = []
    primary = c.primary
    key = c.key_visits
    if c.is_pilot:
        text = (f"Small sample: {plural(c.n_total, 'participant')} {'was' if c.n_total == 1 else 'were'} "
                f"randomized ({c.arm_n_text()}), so every estimate is imprecise.")
    else:
        text = (f"Precision: {plural(c.n_total, 'participant')} {'was' if c.n_total == 1 else 'were'} "
                f"randomized ({c.arm_n_text()}).")
    if primary is not None and key:
        row = c.mmrm_row(primary.name, key[-1])
        if row is not None and as_float(row.get("ci_upper")) is not None and as_float(row.get("ci_lower")) is not None:
            width = as_float(row.get("ci_upper")) - as_float(row.get("ci_lower"))
            text += (f" The {c.level} CI of the primary difference at {visit_label(key[-1])} spans "
                     f"{fmt_num(width)} points ({fmt_ci(row.get('ci_lower'), row.get('ci_upper'))})")
            mcid = as_float(primary.mcid)
            if mcid:
                text += f", {fmt_num(width / mcid, 1)} times the MCID of {points(mcid)}"
            text += "."
    items.append(text)
    if c.is_pilot:
        items.append(f"A {c.kind} is not powered to test efficacy: the effect estimates are for planning a definitive "
                     "trial, p-values are descriptive, and the effects of small trials that are followed up tend to be "
                     "overestimated.")
    n_eff = len(c.efficacy)
    sens = c.t("sensitivity")
    n_sens = sens["analysis"].nunique() if has_columns(sens, "analysis") else 0
    holm = str(c.analysis.get("multiplicity", "holm")) == "holm"
    adjusted = ("only the secondary outcomes were adjusted (Holm)" if holm and n_eff > 1 else
                "no p-value was adjusted")
    examined = f"{plural(n_eff, 'efficacy outcome')} at {plural(len(key), 'key visit')}"
    if n_sens:
        examined += f" and {plural(n_sens, 'sensitivity analysis', 'sensitivity analyses')}"
    items.append(f"Multiplicity: {examined} {'was' if n_eff == 1 and len(key) == 1 and not n_sens else 'were'} "
                 f"examined; {adjusted}, so an isolated small p-value should be read with caution.")
    md = c.t("missing_data")
    if primary is not None and key and has_columns(md, "table"):
        miss = select_rows(md[md["table"].astype(str) == "missingness"], outcome=primary.name, visit=key[-1])
        if len(miss):
            n_missing = int(miss["n_missing"].astype(float).sum())
            n_rand = int(miss["n_randomized"].astype(float).sum())
            tp = select_rows(c.t("tipping_point"), outcome=primary.name)
            tipping = ""
            if len(tp) and any(as_float(x) is not None for x in tp.get("estimate", [])):
                tip = as_float(tp.iloc[0].get("tipping_delta"))
                tipping = (f"; in the tipping-point analysis the conclusion was unchanged up to δ = "
                           f"{points(pd.to_numeric(tp['delta'], errors='coerce').max())}" if tip is None else
                           f"; the tipping-point analysis changes the conclusion at δ = {points(tip)}")
            probe = ("the reference-based imputations probe this assumption" if has_columns(c.t("multiple_imputation"),
                                                                                              "analysis") else "")
            if tipping and not probe:
                probe, tipping = tipping[2:], ""
            items.append(f"Missing data: {n_missing} of {plural(n_rand, 'participant')} "
                         f"({fmt_pct(n_missing / n_rand if n_rand else None)}) "
                         f"had no {primary.name} score at {visit_label(key[-1])}. The primary analysis assumes data "
                         f"missing at random" + (f"; {probe}{tipping}." if probe else "."))
    ae = c.t("adverse_events")
    if has_columns(ae, "term", "rd_ci_lower", "rd_ci_upper"):
        more = [r for r in ae.itertuples() if (as_float(r.rd_ci_lower) or 0) > 0 and str(r.term) != "any adverse event"]
        if more:
            shown = ", ".join(f"{r.term} ({fmt_pct(r.pct_treatment, scale=1)} vs {fmt_pct(r.pct_reference, scale=1)})"
                              for r in more)
            items.append(f"Blinding: adverse events more frequent with {c.treatment_name} — {shown} — may have revealed the "
                         f"allocation to participants and raters (functional unblinding) despite the active control.")
    prog = c.t("progression")
    if has_columns(prog, "name", "met"):
        not_met = [str(r.name) for r in prog.itertuples() if str(r.met) != "met"]
        uncertain = [str(r.name) for r in prog.itertuples()
                     if str(r.met) == "met" and truthy(getattr(r, "met_with_confidence", None)) is False]
        if not_met:
            items.append("Feasibility: progression criteria not met — " + "; ".join(not_met) + ".")
        if uncertain:
            items.append("Feasibility: met by the point estimate only (the interval reaches below the threshold) — "
                         + "; ".join(uncertain) + ".")
    if c.mechanism:
        items.append("Mechanism: the correlations are exploratory and descriptive; they cannot show mediation.")
    feas = c.t("feasibility")
    if has_columns(feas, "note") and feas["note"].astype(str).str.startswith("assumed").any():
        items.append("Adherence: receipt of the intervention was not recorded in the data and is assumed.")
    return items


def warnings_section(c: Context) -> list[dict]:
    """Data warnings: those of earlier steps, then the generated ones."""
    items = c.extra_warnings + _warning_items(c)
    if not items:
        return [para("No data warnings.")]
    return [para("Points in the data and the fits that a reader should know about:"), bullets(items, cls="warnings")]


def limitations_section(c: Context) -> list[dict]:
    """Limitations, generated from the config and the tables."""
    return [bullets(_limitation_items(c))]
