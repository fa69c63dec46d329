"""The discussion part: planning the definitive trial (sample sizes), data warnings and
limitations, each generated from the config and the result tables."""

from __future__ import annotations

from pilottrial.report.format import (
    MISSING,
    as_float,
    fmt_ci,
    fmt_est_ci,
    fmt_int,
    fmt_num,
    fmt_pct,
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
        f"visits, the baseline distribution and slope, and each arm's dropout, and set the {c.treatment} minus "
        f"{c.reference} difference at {visit_label(visit)} to each target below. Every simulated trial "
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
        sim80 = by.get(("simulation", powers[0]))
        if sim80 is not None and str(getattr(sim80, "reached", "yes")) == "yes":
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
            if str(r.covariance) != wanted:
                out.append(f"{r.outcome}: the {structure_name(wanted)} MMRM did not converge; the "
                           f"{structure_name(r.covariance)} structure was used instead.")
    contrasts = c.t("contrasts")
    if has_columns(contrasts, "estimate"):
        for r in contrasts.itertuples():
            if as_float(r.estimate) is None or as_float(r.ci_lower) is None:
                out.append(f"{r.outcome}, {r.model} at {visit_label(r.visit)}: the contrast could not be estimated.")
    sens = c.t("sensitivity")
    if has_columns(sens, "estimate", "analysis"):
        for r in sens.itertuples():
            if as_float(r.estimate) is None:
                out.append(f"{r.outcome} at {visit_label(r.visit)}: {analysis_label(str(r.analysis))} could not be "
                           f"estimated ({text_or_missing(getattr(r, 'note', None))}).")
    md = c.t("missing_data")
    if has_columns(md, "table", "pct_missing"):
        miss = md[md["table"].astype(str) == "missingness"]
        for v in c.key_visits:
            same: dict[str, list[str]] = {}
            for o in c.efficacy:
                parts = []
                heavy = False
                for arm in (c.reference, c.treatment):
                    r = first_row(miss, outcome=o.name, arm=arm, visit=v)
                    if r is None:
                        continue
                    pct = as_float(r.get("pct_missing"))
                    heavy = heavy or (pct is not None and pct > 10)
                    parts.append(f"{fmt_int(r.get('n_missing'))}/{fmt_int(r.get('n_randomized'))} "
                                 f"({fmt_pct(pct, scale=1)}) {arm}")
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


def limitations(config: dict, tables: dict) -> list[str]:
    """The limitations paragraph items, generated from the config and the tables."""
    return _limitation_items(Context(config, tables))


def _limitation_items(c: Context) -> list[str]:
    items = []
    primary = c.primary
    key = c.key_visits
    text = (f"Small sample: {fmt_int(c.n_total)} participants were randomized ({c.arm_n_text()}), so every "
            f"estimate is imprecise.")
    if primary is not None and key:
        row = c.mmrm_row(primary.name, key[-1])
        if row is not None and as_float(row.get("ci_upper")) is not None and as_float(row.get("ci_lower")) is not None:
            width = as_float(row.get("ci_upper")) - as_float(row.get("ci_lower"))
            text += (f" The {c.level} CI of the primary difference at {visit_label(key[-1])} spans "
                     f"{fmt_num(width)} points ({fmt_ci(row.get('ci_lower'), row.get('ci_upper'))})")
            mcid = as_float(primary.mcid)
            if mcid:
                text += f", {fmt_num(width / mcid, 1)} times the MCID of {fmt_num(mcid, 0)} points"
            text += "."
    items.append(text)
    items.append("A pilot trial is not powered to test efficacy: the effect estimates are for planning a definitive "
                 "trial, p-values are descriptive, and the effects of small trials that are followed up tend to be "
                 "overestimated.")
    n_eff = len(c.efficacy)
    sens = c.t("sensitivity")
    n_sens = sens["analysis"].nunique() if has_columns(sens, "analysis") else 0
    items.append(f"Multiplicity: {n_eff} efficacy outcomes at {len(key)} key visits and {n_sens} sensitivity "
                 f"analyses were examined; only the secondary outcomes were adjusted (Holm), so an isolated small "
                 f"p-value should be read with caution.")
    md = c.t("missing_data")
    if primary is not None and key and has_columns(md, "table"):
        miss = select_rows(md[md["table"].astype(str) == "missingness"], outcome=primary.name, visit=key[-1])
        if len(miss):
            n_missing = int(miss["n_missing"].astype(float).sum())
            n_rand = int(miss["n_randomized"].astype(float).sum())
            tp = select_rows(c.t("tipping_point"), outcome=primary.name)
            tipping = ""
            if len(tp):
                tip = as_float(tp.iloc[0].get("tipping_delta"))
                tipping = (f"; in the tipping-point analysis the conclusion was unchanged up to δ = "
                           f"{fmt_num(tp['delta'].astype(float).max(), 0)} points" if tip is None else
                           f"; the tipping-point analysis changes the conclusion at δ = {fmt_num(tip, 0)} points")
            items.append(f"Missing data: {n_missing} of {n_rand} participants ({fmt_pct(n_missing / n_rand if n_rand else None)}) "
                         f"had no {primary.name} score at {visit_label(key[-1])}. The primary analysis assumes data "
                         f"missing at random; the reference-based imputations probe this assumption{tipping}.")
    ae = c.t("adverse_events")
    if has_columns(ae, "term", "rd_ci_lower", "rd_ci_upper"):
        more = [r for r in ae.itertuples() if (as_float(r.rd_ci_lower) or 0) > 0 and str(r.term) != "any adverse event"]
        if more:
            shown = ", ".join(f"{r.term} ({fmt_pct(r.pct_treatment, scale=1)} vs {fmt_pct(r.pct_reference, scale=1)})"
                              for r in more)
            items.append(f"Blinding: adverse events more frequent with {c.treatment} — {shown} — may have revealed the "
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
