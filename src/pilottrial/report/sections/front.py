"""The front of the report and its methods: summary, objectives, trial design, estimands and
statistical methods (CONSORT for pilot trials, items 1-12), written from the config and the tables."""

from __future__ import annotations

from pilottrial.report.format import (
    MISSING,
    arm_label,
    as_float,
    fmt_est_ci,
    fmt_int,
    fmt_num,
    fmt_pct,
    percentage_points,
    plural,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import bullets, heading, para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.labels import analysis_label, join_words, structure_name, with_article
from pilottrial.report.sections.robustness import AGREEMENT_DEFINITION
from pilottrial.report.sections.sentences import contrast_sentence
from pilottrial.report.sections.tables import has_columns, truthy

__all__ = ["summary_section", "objectives_section", "design_section", "estimands_section", "methods_section"]


def summary_section(c: Context) -> list[dict]:
    """Summary: the design in one paragraph, the primary outcome's key results, harms that differ, feasibility."""
    blocks = [para(
        f"Randomized, parallel-group {c.kind} of {c.treatment_name} versus {c.reference_name} "
        f"({text_or_missing(c.trial.name)}); {plural(c.n_total, 'participant')} randomized "
        f"({c.arm_n_text()}). Effects are {c.treatment_name} minus {c.reference_name} differences in "
        f"{c.effect_measure} with {c.level} confidence intervals"
        + (f"; as in any {c.kind}, they are estimates for planning, not tests of efficacy." if c.is_pilot else "."))]
    if c.primary is not None:
        sentences = [contrast_sentence(c.trial, c.primary, v, c.mmrm_row(c.primary.name, v))
                     for v in c.key_visits]
        blocks.append(heading(f"Primary outcome: {c.primary.name}"))
        blocks.append(bullets(sentences, cls="key"))
    ae = c.t("adverse_events")
    if has_columns(ae, "term", "rd_ci_lower", "rd_ci_upper"):
        differ = [r for r in ae.itertuples()
                  if (as_float(r.rd_ci_lower) or 0) > 0 or (as_float(r.rd_ci_upper) or 0) < 0]
        if differ:
            blocks.append(para("Harms: " + "; ".join(
                f"{text_or_missing(r.term)} in {fmt_pct(r.pct_treatment, scale=1)} of {c.treatment_name} and "
                f"{fmt_pct(r.pct_reference, scale=1)} of {c.reference_name} participants (risk difference "
                f"{fmt_est_ci(*percentage_points(r.risk_difference, r.rd_ci_lower, r.rd_ci_upper), 1)} "
                f"percentage points)" for r in differ) + "."))
    prog = c.t("progression")
    if has_columns(prog, "name", "met"):
        met = int((prog["met"].astype(str) == "met").sum())
        confident = sum(1 for x in prog.get("met_with_confidence", []) if truthy(x))
        not_met = [text_or_missing(n) for n, m in zip(prog["name"], prog["met"]) if str(m) != "met"]
        criteria = plural(len(prog), "pre-specified progression criterion", "pre-specified progression criteria")
        text = (f"Feasibility: {met} of {criteria} {'was' if len(prog) == 1 else 'were'} met by "
                f"{'its' if len(prog) == 1 else 'their'} point estimate ({confident} with the whole confidence "
                f"interval at or above the threshold).")
        if not_met:
            text += " Not met: " + "; ".join(not_met) + "."
        blocks.append(para(text))
    return blocks


def objectives_section(c: Context) -> list[dict]:
    """Objectives: primary, secondary (outcomes, responders, harms, mechanism) and feasibility."""
    key = join_words([visit_label(v) for v in c.key_visits])
    blocks = []
    if c.primary is not None:
        blocks.append(para(
            f"Primary objective: to estimate the effect of {c.treatment_name} compared with {c.reference_name} on "
            f"{c.primary.name} (primary outcome), as the difference in {c.effect_measure.replace('adjusted ', '')} "
            f"at {key}, with {c.level} confidence intervals."))
    secondary = [o.name for o in c.efficacy if not o.primary]
    items = []
    if secondary:
        items.append(f"the same effect on the secondary {'outcome' if len(secondary) == 1 else 'outcomes'} "
                     f"{join_words(secondary)}")
    if c.t("responders").shape[0]:
        remitters = any(o.remission_below is not None for o in c.efficacy)
        items.append("the proportions of responders" + (" and remitters" if remitters else "") + " in each arm")
    harms = c.trial.section("harms")
    if harms:
        parts = []
        if harms.get("adverse_events"):
            parts.append("adverse events")
        if harms.get("dissociation"):
            d = harms["dissociation"]
            parts.append(f"dissociation ({d.get('name', 'CADSS')} at {d.get('timepoint', 'the infusion')})")
        items.append("harms: " + join_words(parts))
    if c.mechanism and c.primary is not None:
        items.append(f"whether the change in {join_words([m.name for m in c.mechanism])} goes with the change in "
                     f"{c.primary.name} (mechanism, exploratory)")
    if items:
        blocks.append(para("Secondary objectives: " + "; ".join(items) + "."))
    criteria = c.trial.section("feasibility").get("progression_criteria") or []
    if c.trial.section("feasibility"):
        text = ("Feasibility objectives: to estimate recruitment, eligibility, consent, retention and data "
                "completeness for a definitive trial")
        if criteria:
            text += (", judged against "
                     + plural(len(criteria), "pre-specified progression criterion", "pre-specified progression criteria"))
        blocks.append(para(text + "."))
    return blocks


def _comparisons_text(c: Context) -> str:
    """The treatment effects of a trial with three or more arms and their adjustment, in words."""
    pairs = "; ".join(f"{arm_label(x.treatment)} minus {arm_label(x.reference)}" for x in c.comparisons)
    how = {"dunnett": "simultaneous (Dunnett) intervals and p-values from the multivariate t distribution of the "
                      "contrasts (Hothorn, Bretz & Westfall 2008)",
           "holm": "Holm-adjusted p-values (intervals are not adjusted)",
           "none": "no adjustment"}.get(c.trial.arm_adjustment, c.trial.arm_adjustment)
    return (f"All {c.trial.n_arms} arms enter one MMRM. The treatment effects at each visit are the differences in "
            f"{c.effect_measure} of the {plural(len(c.comparisons), 'comparison')} ({pairs}); across the "
            f"comparisons at the same visit they are also reported with {how}.")


def design_section(c: Context) -> list[dict]:
    """Trial design: arms, visits, key visits and the outcomes table."""
    base = c.baseline
    visits = c.visit_order
    key = c.key_visits
    if c.multi_arm:
        allocation = (f"Randomized, parallel-group, {c.trial.n_arms}-arm {c.kind}. {plural(c.n_total, 'participant')} "
                      f"{'was' if c.n_total == 1 else 'were'} randomized to "
                      + ", ".join(f"{arm_label(a)} (n = {fmt_int(c.n_by_arm.get(a))})" for a in c.arms[1:])
                      + f" or {c.reference_name} (reference, n = {fmt_int(c.n_by_arm.get(c.reference))}).")
    else:
        allocation = (f"Randomized, parallel-group, two-arm {c.kind}. {plural(c.n_total, 'participant')} "
                      f"{'was' if c.n_total == 1 else 'were'} randomized to {c.treatment_name} (treatment, n = "
                      f"{fmt_int(c.n_by_arm.get(c.treatment))}) or {c.reference_name} (reference, n = "
                      f"{fmt_int(c.n_by_arm.get(c.reference))}).")
    blocks = [para(
        f"{allocation} Outcomes were assessed at "
        f"{join_words([visit_label(v) for v in visits])}"
        + (f" ({visit_label(base)} is the baseline)" if base and base.lower() != "baseline" else "")
        + (f"; the key visits, reported first, are {join_words([visit_label(v) for v in key])}." if len(key) > 1
           else f"; the key visit, reported first, is {join_words([visit_label(v) for v in key])}."))]
    rows = []
    for o in c.outcomes:
        rng = o.range
        rng_text = (f"{fmt_num(rng[0], 0)} to {fmt_num(rng[1], 0)}"
                    if isinstance(rng, (list, tuple)) and len(rng) == 2 else MISSING)
        role = "primary" if o.primary else ("mechanism" if o.is_mechanism else "secondary")
        remission = o.remission_below
        rows.append([o.name, role, rng_text, {"lower": "lower", "higher": "higher"}.get(o.better, MISSING),
                     fmt_num(o.mcid, 0) if as_float(o.mcid) is not None else MISSING,
                     f"< {fmt_num(remission, 0)}" if as_float(remission) is not None else MISSING])
    blocks.append(table_block("Outcomes", [("Outcome", "text"), ("Role", "text"), ("Score range", "num"),
                                           ("Better", "text"), ("MCID (points)", "num"), ("Remission", "num")], rows,
                              note="MCID: minimal clinically important difference, used for the Bayesian reading. "
                                   "Remission: score strictly below the cut-off."))
    return blocks


def estimands_section(c: Context) -> list[dict]:
    """Estimands (ICH E9(R1)) from estimands.csv, one row per outcome."""
    est = c.t("estimands")
    if not has_columns(est, "outcome", "intercurrent_event", "strategy"):
        return [para("No estimand table was produced.")]
    rows = []
    names = [o.name for o in c.outcomes]
    order = {n: i for i, n in enumerate(names)}
    for outcome in sorted(dict.fromkeys(est["outcome"].astype(str)), key=lambda n: order.get(n, len(order))):
        sub = est[est["outcome"].astype(str) == outcome]
        first = sub.iloc[0]
        events = "; ".join(f"{text_or_missing(r.intercurrent_event)}: {text_or_missing(r.strategy)}"
                           for r in sub.itertuples())
        rows.append([outcome, text_or_missing(first.get("population")), text_or_missing(first.get("variable")),
                     text_or_missing(first.get("treatment")), events, text_or_missing(first.get("summary"))])
    return [
        para("Estimands follow ICH E9(R1): the population, the variable (endpoint), the treatment conditions, "
             "the handling of each intercurrent event and the population-level summary."),
        table_block("Estimands", [("Outcome", "text"), ("Population", "text"), ("Variable", "text"),
                                  ("Treatment", "text"), ("Intercurrent events: strategy", "text"),
                                  ("Population-level summary", "text")], rows, cls="wide text-table"),
    ]


def _model_text(c: Context, visits_txt: str) -> str:
    """The model in words, from the config (response scale, covariates, visits)."""
    analysis = c.analysis
    covariates = list(dict.fromkeys(list(analysis.get("covariates", []) or [])
                                    + list(analysis.get("strata", []) or [])))
    extra = "".join(f" + {name}" for name in covariates)
    if c.trial.response == "raw":
        return f"score ~ arm × visit{extra}, fitted to all visits ({visits_txt}) without a baseline covariate,"
    baseline = "baseline × visit" if analysis.get("baseline_by_visit") else "baseline"
    return f"change from baseline ~ {baseline}{extra} + arm × visit, fitted to the post-baseline visits ({visits_txt})"


def _structure_text(c: Context) -> tuple[str, str]:
    """The covariance structure asked for, and a sentence on the fallback chain and its use."""
    analysis = c.analysis
    models = c.t("models")
    wanted = str(analysis.get("covariance", "us"))
    name = structure_name(wanted)
    main = f"{with_article(name)} covariance matrix"
    chain = [str(code) for code in analysis.get("fallback", []) or []]
    note = ""
    if chain:
        note = ("Had it failed to converge, the first converging of the "
                + ", ".join(structure_name(code) for code in chain)
                + (" structures would have been used" if len(chain) > 1 else " structure would have been used"))
    if has_columns(models, "model", "covariance", "outcome"):
        mmrm = models[models["model"].astype(str) == "mmrm"]
        used = [f"{text_or_missing(row.outcome)} ({structure_name(row.covariance)})"
                for row in mmrm.itertuples() if str(row.covariance) != wanted and text_or_missing(row.covariance) != MISSING]
        if used and chain:
            note = (f"The {name} fit did not converge for " + ", ".join(used)
                    + ", where the structure in brackets, the first converging in the fallback chain, was used")
        elif chain:
            note += f"; the {name} fit converged for every outcome"
    return main, (note + ". ") if note else ""


def methods_section(c: Context) -> list[dict]:
    """Statistical methods: the MMRM, multiplicity, missing data, sensitivity and secondary analyses."""
    analysis = c.analysis
    raw = c.trial.response == "raw"
    post = c.visit_order if raw else c.post_baseline
    visits_txt = ", ".join(post) if post else "the post-baseline visits"
    structure, fallback_note = _structure_text(c)
    if c.df_label.startswith("Kenward-Roger"):
        cov = ("The covariance matrix of the fixed effects is the model-based (X′V̂⁻¹X)⁻¹ with the "
               "Kenward-Roger small-sample adjustment, and denominator degrees of freedom are obtained by "
               "the Kenward-Roger method")
    else:
        cov = ("The covariance matrix of the fixed effects is the model-based (X′V̂⁻¹X)⁻¹, and denominator "
               "degrees of freedom are obtained by the Satterthwaite approximation")
    blocks = [
        heading("Primary analysis"),
        para(f"Each outcome was analysed with a mixed model for repeated measures (MMRM): "
             f"{_model_text(c, visits_txt)} with {structure} of the repeated measurements within "
             f"participant, estimated by restricted maximum likelihood (REML). {fallback_note}{cov}; {c.level} "
             f"confidence intervals use the t distribution with these degrees of freedom (α = {fmt_num(c.alpha, 2)})."),
        para((_comparisons_text(c) if c.multi_arm else
              f"The treatment effect at each visit is the difference in {c.effect_measure}, "
              f"{c.treatment_name} minus {c.reference_name}.") + " All randomized participants "
             + ("contribute" if c.raw else "with a baseline score contribute")
             + "; the MMRM is valid when data are missing at random (MAR), which corresponds to the hypothetical "
               "strategy for dropout in the estimands."),
    ]
    if c.is_pilot:
        blocks.append(para(f"This is a {c.kind}, so the emphasis is on estimation: effects are reported with their "
                           "confidence intervals first, and p-values are given last, for completeness only; they are "
                           "not tests of efficacy."))
    multiplicity = str(analysis.get("multiplicity", "holm"))
    blocks.append(heading("Multiplicity"))
    secondary = [o for o in c.efficacy if not o.primary]
    if multiplicity == "holm" and secondary:
        blocks.append(para("The primary outcome is not adjusted. The p-values of the secondary efficacy outcomes are "
                           "adjusted by Holm's step-down method across the secondary outcomes at each key visit"
                           + ("; mechanism outcomes are exploratory and not adjusted" if c.mechanism else "")
                           + ". Confidence intervals are not adjusted."))
    elif multiplicity == "holm":
        blocks.append(para("The primary outcome is the only efficacy outcome, so no p-value is adjusted for "
                           "multiplicity" + ("; mechanism outcomes are exploratory" if c.mechanism else "")
                           + ". Confidence intervals are not adjusted."))
    else:
        blocks.append(para("No adjustment for multiplicity was made (the config sets analysis.multiplicity so)."))
    m = int(as_float(analysis.get("imputations")) or 100)
    step_value = as_float(analysis.get("tipping_delta_step", 1)) or 1.0
    max_value = as_float(analysis.get("tipping_delta_max", 20)) or 20.0
    step = fmt_num(step_value, 0 if step_value.is_integer() else 1)
    dmax = fmt_num(max_value, 0 if max_value.is_integer() else 1)
    text = "The primary MMRM uses every observed score and assumes data missing at random (MAR)."
    if has_columns(c.t("multiple_imputation"), "analysis"):
        text += (f" Multiple imputation ({plural(m, 'imputation')}; an MMRM imputation model with one baseline slope "
                 f"per visit, unstructured covariance) re-estimated each key-visit difference by ANCOVA, pooled by "
                 f"Rubin's rules with Barnard-Rubin degrees of freedom, under MAR and under three reference-based "
                 f"assumptions for {c.treatment_name}-arm participants after their last observed visit: jump to "
                 f"reference (J2R), copy increments in reference (CIR) and copy reference (CR) (Carpenter, Roger & "
                 f"Kenward 2013).")
    if has_columns(c.t("tipping_point"), "delta"):
        text += (f" A delta-adjusted tipping-point analysis shifted the imputed {c.treatment_name}-arm values in the "
                 f"unfavourable direction by δ = 0 to {dmax} points in steps of {step} at the last key visit, to find "
                 f"the smallest shift that changes the conclusion.")
    blocks += [heading("Missing data"), para(text)]
    sens = c.t("sensitivity")
    analyses = list(dict.fromkeys(sens["analysis"].astype(str))) if has_columns(sens, "analysis") else []
    draws = fmt_int(analysis.get("randomization_draws", 10000))
    seed = text_or_missing(analysis.get("seed"))
    descriptions = {
        "ancova_complete_case": "ANCOVA of the change at each key visit (change ~ baseline + arm), participants observed at that visit",
        "mixed_anova_complete_case": "mixed (split-plot) ANOVA of participants observed at every post-baseline visit, Greenhouse-Geisser corrected, with Welch t at each visit",
        "gee_bias_reduced": "generalized estimating equations with exchangeable working correlation and the Mancl-DeRouen bias-reduced sandwich covariance, t on N − p df",
        "randomization_test": f"randomization test of the MMRM t statistic ({draws} Monte Carlo re-randomizations of the arm labels, seed {seed})",
        "mann_whitney": "Mann-Whitney test of the change at each key visit with the Hodges-Lehmann shift and its order-statistic interval (no model)",
        "lmm_random_intercept": "linear mixed model with a random participant intercept (REML with the participant "
                                "variance constrained at ≥ 0, as lme4; Satterthwaite df)",
    }
    items = []
    for a in analyses:
        if a in descriptions:
            items.append(descriptions[a])
        elif a.startswith("mmrm_"):
            items.append(f"the primary MMRM with {with_article(structure_name(a[5:]))} covariance")
        else:
            items.append(analysis_label(a))
    mi = c.t("multiple_imputation")
    if has_columns(mi, "analysis"):
        items.append("the multiple imputations under MAR, J2R, CIR and CR described above")
    blocks.append(heading("Sensitivity analyses"))
    if items:
        blocks.append(para("Each sensitivity analysis re-estimates the treatment difference at the key visits of "
                           "each efficacy outcome:"))
        blocks.append(bullets([i[0].upper() + i[1:] + "." for i in items]))
        blocks.append(para(AGREEMENT_DEFINITION.format(level=c.level, alpha=fmt_num(c.alpha, 2))))
    else:
        blocks.append(para("No sensitivity analyses were run."))
    improvement = as_float(analysis.get("responder_improvement", 0.3)) or 0.3
    secondary_items = []
    if has_columns(c.t("effect_sizes"), "method"):
        secondary_items.append(
            "Standardized effect sizes (Hedges' g): the MMRM difference over the pooled within-arm baseline SD, "
            "and the observed difference in mean change over its pooled SD, each with a 95% interval.")
    if has_columns(c.t("responders"), "definition"):
        remission = any(o.remission_below is not None for o in c.efficacy)
        secondary_items.append(
            f"Responders: at least {fmt_num(100 * improvement, 0)}% improvement from baseline"
            + ("; remission: a score below the outcome's cut-off" if remission else "")
            + ". Risk difference with the Newcombe hybrid-score interval, odds ratio with "
              "the Gart-adjusted logit interval, Fisher's exact test and the number needed to treat (Altman's notation "
              "when the interval includes no difference). Participants without a score at the visit are excluded.")
    if has_columns(c.t("posterior"), "prior"):
        if any(as_float(o.mcid) is not None for o in c.efficacy):
            secondary_items.append(
                "Bayesian reading: posterior probability that the treatment is better (and better by more than the "
                "MCID) from the normal likelihood of the MMRM estimate, under a flat prior and a sceptical prior "
                "N(0, s²) that gives 5% probability to a benefit beyond the MCID (s = MCID / 1.645).")
        elif as_float(analysis.get("sceptical_prior_sd")) is not None:
            secondary_items.append(
                "Bayesian reading: posterior probability that the treatment is better, from the normal likelihood of "
                "the MMRM estimate under a flat prior and a sceptical prior N(0, s²) with s = "
                f"{fmt_num(analysis.get('sceptical_prior_sd'))} (analysis.sceptical_prior_sd); no outcome has an MCID.")
        else:
            secondary_items.append(
                "Bayesian reading: posterior probability that the treatment is better, from the normal likelihood of "
                "the MMRM estimate under a flat prior (no outcome has an MCID, which the sceptical prior and the "
                "probability of a clinically important benefit need).")
    if secondary_items:
        blocks += [heading("Secondary analyses"), bullets(secondary_items)]
    other = []
    if c.trial.section("harms"):
        other.append("Harms: participants with each adverse event by arm, risk difference (Newcombe interval) and "
                     "Fisher's exact test; dissociation by arm with the Welch difference in means and the "
                     "Hodges-Lehmann shift.")
    if c.trial.section("feasibility"):
        other.append("Feasibility: proportions with Wilson intervals; recruitment per month with an exact Poisson "
                     "interval; progression criteria compared with their thresholds by point estimate and by the "
                     "whole interval.")
    if c.mechanism:
        other.append("Mechanism: Pearson and Spearman correlations of the change in each mechanism outcome with "
                     "the change in the primary outcome, within each arm and overall, with Fisher-z intervals; "
                     "descriptive only.")
    if other:
        blocks += [heading("Harms, feasibility and mechanism"), bullets(other)]
    return blocks
