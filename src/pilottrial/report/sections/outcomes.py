"""Outcomes and estimation: the MMRM contrasts of each efficacy outcome with the observed scores,
the standardized effect sizes, the Bayesian reading and the responders."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pilottrial.report.format import (
    MISSING,
    as_float,
    fmt_est_ci,
    fmt_estimate,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    not_estimable_reason,
    not_estimable_text,
    percentage_points,
    points,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import bullets, heading, para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.sentences import contrast_sentence
from pilottrial.report.sections.tables import first_row, has_columns

__all__ = ["outcomes_section", "effect_sizes_section", "bayes_section", "responders_section"]


def _descr_cell(desc: pd.DataFrame, outcome: str, arm: str, visit: str) -> list[str]:
    r = first_row(desc, outcome=outcome, arm=arm, visit=visit)
    if r is None:
        return [MISSING, MISSING, MISSING]
    change = (MISSING if as_float(r.get("change_mean")) is None
              else f"{fmt_num(r.get('change_mean'), 1)} ({fmt_num(r.get('change_sd'), 1)})")
    return [fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), 1)} ({fmt_num(r.get('sd'), 1)})", change]


def outcomes_section(c: Context) -> list[dict]:
    """Outcomes and estimation: per efficacy outcome the key sentences and the scores with the MMRM difference."""
    desc = c.t("descriptives")
    mult = c.t("multiplicity")
    blocks: list[dict] = [para(
        f"Treatment effects ({c.treatment_name} minus {c.reference_name}) from the MMRM, key visits first, with "
        f"{c.level} confidence intervals. For outcomes where lower scores are better, a negative difference "
        f"favours {c.treatment_name}.")]
    holm = str(c.analysis.get("multiplicity", "holm")) == "holm" and len(c.efficacy) > 1
    key = c.key_visits
    figures = c.figures_for("outcomes")
    blocks += [f for f in figures if not f["outcome"]]  # figures of all outcomes (the forest plot) first
    placed = set()
    for o in c.efficacy:
        name = o.name
        blocks.append(heading(f"{name}{' (primary outcome)' if o.primary else ''}"))
        blocks.append(bullets([contrast_sentence(c.trial, o, v, c.mmrm_row(name, v)) for v in key],
                              cls="key"))
        groups = []
        for label, visits in (("Key visits", key), ("Other visits", [v for v in c.post_baseline
                                                                      if v not in key])):
            rows = []
            for v in visits:
                contrast = c.mmrm_row(name, v)
                adj = first_row(mult, outcome=name, model="mmrm", visit=v) if has_columns(mult, "outcome") else None
                adjusted = MISSING
                if adj is not None:
                    how = str(adj.get("adjustment", ""))
                    adjusted = "not adjusted" if how.startswith("none") else fmt_p(adj.get("p_adjusted"), prefix=False)
                rows.append([visit_label(v)] + _descr_cell(desc, name, c.reference, v)
                            + _descr_cell(desc, name, c.treatment, v)
                            + ([fmt_estimate(contrast), fmt_p(contrast.get("p_value"), prefix=False)]
                               if contrast is not None else [MISSING, MISSING])
                            + ([adjusted] if holm else []))
            if rows:
                groups.append((label, rows))
        cols = [("Visit", "text"), ("n", "num"), ("Score", "num"), ("Change", "num"),
                ("n", "num"), ("Score", "num"), ("Change", "num"),
                (f"Difference ({c.level} CI)", "ci"), ("p", "num")] + ([("p (Holm)", "num")] if holm else [])
        note = (f"Score and change from baseline: mean (SD) of the participants assessed at each visit; the difference is "
                f"the MMRM estimate ({c.df_label} df).")
        if holm:
            note += " p (Holm): adjusted across the secondary outcomes at each key visit; the primary outcome is not adjusted."
        blocks.append(table_block(
            f"{name}: observed scores by arm and the MMRM difference in {c.effect_measure.replace(' from baseline', '')}",
            cols, groups=groups,
            spanners=[("", 1), (c.reference_name, 3), (c.treatment_name, 3),
                      (f"{c.treatment_name} − {c.reference_name} (MMRM)", 3 if holm else 2)],
            note=note, cls="wide"))
        mine = [f for f in figures if f["outcome"] == name]
        blocks += mine
        placed.update(id(f) for f in mine)
    blocks += [f for f in figures if f["outcome"] and id(f) not in placed]
    return blocks


def effect_sizes_section(c: Context) -> list[dict]:
    """Standardized effect sizes (Hedges' g) at the key visits."""
    es = c.t("effect_sizes")
    if not has_columns(es, "outcome", "visit", "method", "estimate"):
        return [para("No effect-size table was produced.")]
    groups = []
    for o in c.efficacy:
        rows = []
        for v in c.key_visits:
            model = first_row(es, outcome=o.name, visit=v, method="mmrm_over_baseline_sd")
            observed = first_row(es, outcome=o.name, visit=v, method="observed_change")
            if model is None and observed is None:
                continue
            ns = model if model is not None else observed
            rows.append([visit_label(v), fmt_estimate(model) if model is not None else MISSING,
                         fmt_estimate(observed) if observed is not None else MISSING,
                         f"{fmt_int(ns.get('n_reference'))} / {fmt_int(ns.get('n_treatment'))}"])
        if rows:
            groups.append((o.name, rows))
    blocks = []
    if c.primary is not None:
        v = c.key_visits[-1]
        r = first_row(es, outcome=c.primary.name, visit=v, method="mmrm_over_baseline_sd")
        if r is not None and as_float(r.get("estimate")) is not None:
            blocks.append(para(f"At {visit_label(v)}, the standardized difference in {c.primary.name} was "
                               f"g = {fmt_est_ci(r.get('estimate'), r.get('ci_lower'), r.get('ci_upper'))} "
                               f"(MMRM difference over the pooled baseline SD)."))
        elif r is not None:
            reason = not_estimable_reason(r)
            blocks.append(para(f"At {visit_label(v)}, the standardized difference in {c.primary.name} could not be "
                               f"estimated" + (f" ({reason})." if reason else ".")))
    blocks.append(table_block("Standardized treatment differences (Hedges' g) at the key visits",
                              [("Visit", "text"), ("g, MMRM over baseline SD (95% CI)", "ci"),
                               ("g, observed change (95% CI)", "ci"),
                               (f"n {c.reference_name} / {c.treatment_name}", "num")],
                              groups=groups, note="Negative g favours the treatment when lower scores are better. "
                                                  "n: participants in the MMRM."))
    return blocks + c.figures_for("effect-sizes")


def bayes_section(c: Context) -> list[dict]:
    """Bayesian reading: posterior probabilities of benefit under the flat and sceptical priors."""
    post = c.t("posterior")
    if not has_columns(post, "outcome", "visit", "prior", "prob_benefit"):
        return [para("No posterior table was produced.")]
    blocks = []
    with_mcid = "mcid" in post.columns and post["mcid"].map(as_float).notna().any()
    if c.primary is not None:
        for v in c.key_visits:
            flat = first_row(post, outcome=c.primary.name, visit=v, prior="flat")
            sceptical = first_row(post, outcome=c.primary.name, visit=v, prior="sceptical")
            if flat is not None:
                blocks.append(para(_posterior_sentence(c, v, flat, sceptical)))
    groups = []
    for o in c.efficacy:
        rows = []
        for v in c.visits_key_first:
            for prior in ("flat", "sceptical"):
                r = first_row(post, outcome=o.name, visit=v, prior=prior)
                if r is None:
                    continue
                prior_text = ("flat" if prior == "flat" else
                              f"sceptical N(0, {fmt_num(r.get('prior_sd'), 2)}²)"
                              if as_float(r.get("prior_sd")) is not None else "sceptical")
                reason = not_estimable_reason(r)
                if as_float(r.get("posterior_mean")) is not None:
                    posterior = f"{fmt_num(r.get('posterior_mean'))} ({fmt_num(r.get('posterior_sd'))})"
                elif reason is not None:
                    posterior = not_estimable_text(reason)
                elif prior == "sceptical" and as_float(r.get("prior_sd")) is None:
                    posterior = "not computed (no MCID for the prior)"
                else:
                    posterior = MISSING
                rows.append([visit_label(v), prior_text, posterior, fmt_pct(r.get("prob_benefit"))]
                            + ([fmt_num(r.get("mcid"), 0), fmt_pct(r.get("prob_benefit_beyond_mcid"))] if with_mcid
                               else []))
        if rows:
            groups.append((o.name, rows))
    columns = [("Visit", "text"), ("Prior", "text"), ("Posterior mean (SD)", "num"), ("P(benefit)", "num")]
    if with_mcid:
        columns += [("MCID", "num"), ("P(benefit > MCID)", "num")]
    blocks.append(table_block("Posterior probabilities of benefit", columns, groups=groups,
                              note="Normal approximation to the likelihood of the MMRM estimate; the flat-prior "
                                   "probabilities use the t reference distribution with the MMRM df."))
    return blocks + c.figures_for("bayes")


def _posterior_sentence(c: Context, visit: str, flat: pd.Series, sceptical: pd.Series | None) -> str:
    """The primary outcome's probabilities of benefit at a visit in words; the MCID clause only when
    the outcome has an MCID, the sceptical clause only when that prior was computed."""
    when = visit_label(visit)
    name = c.primary.name
    if as_float(flat.get("prob_benefit")) is None:
        reason = not_estimable_reason(flat)
        return (f"At {when}, the posterior probability of a benefit on {name} could not be computed"
                + (f" ({reason})." if reason else "."))
    text = (f"At {when}, the probability that {c.treatment_name} is better than {c.reference_name} on "
            f"{name} is {fmt_pct(flat.get('prob_benefit'))} under a flat prior")
    beyond = as_float(flat.get("prob_benefit_beyond_mcid")) is not None and as_float(flat.get("mcid")) is not None
    if beyond:
        text += (f", and the probability of a benefit larger than the MCID ({points(flat.get('mcid'))}) is "
                 f"{fmt_pct(flat.get('prob_benefit_beyond_mcid'))}")
    if sceptical is not None and as_float(sceptical.get("prob_benefit")) is not None:
        if beyond and as_float(sceptical.get("prob_benefit_beyond_mcid")) is not None:
            text += (f"; under the sceptical prior these are {fmt_pct(sceptical.get('prob_benefit'))} and "
                     f"{fmt_pct(sceptical.get('prob_benefit_beyond_mcid'))}")
        else:
            text += f"; under the sceptical prior it is {fmt_pct(sceptical.get('prob_benefit'))}"
    return text + "."


def _nnt_text(note: Any) -> str:
    """``"NNTB 4.9; CI: NNTB 2.1 to infinity to NNTH 7.8"`` -> ``"NNTB 4.9 (NNTB 2.1 to ∞ to NNTH 7.8)"``."""
    reason = not_estimable_reason({"note": note})
    if reason is not None:
        return not_estimable_text(reason)
    text = text_or_missing(note).replace("infinity", "∞")
    point, sep, interval = text.partition("; CI: ")
    return f"{point} ({interval})" if sep else text


def responders_section(c: Context) -> list[dict]:
    """Responders and remission by arm, with risk difference, odds ratio and NNT."""
    resp = c.t("responders")
    if not has_columns(resp, "outcome", "visit", "definition"):
        return [para("No responder table was produced.")]
    improvement = as_float(c.analysis.get("responder_improvement", 0.3)) or 0.3
    blocks = []
    if c.primary is not None:
        v = c.key_visits[-1]
        r = first_row(resp, outcome=c.primary.name, visit=v, definition="response")
        if r is not None:
            rd = percentage_points(r.get("risk_difference"), r.get("rd_ci_lower"), r.get("rd_ci_upper"))
            blocks.append(para(
                f"At {visit_label(v)}, {fmt_int(r.get('n_treatment'))} of {fmt_int(r.get('N_treatment'))} "
                f"{c.treatment_name} participants ({fmt_pct(r.get('pct_treatment'), scale=1)}) and "
                f"{fmt_int(r.get('n_reference'))} of {fmt_int(r.get('N_reference'))} {c.reference_name} participants "
                f"({fmt_pct(r.get('pct_reference'), scale=1)}) responded on {c.primary.name} (at least "
                f"{fmt_num(100 * improvement, 0)}% improvement)"
                + (f": risk difference {fmt_est_ci(*rd, 1)} percentage points." if rd[0] is not None else ".")))
    groups = []
    for name in {o.name: o for o in c.efficacy}:
        rows = []
        for v in c.visits_key_first:
            for definition in ("response", "remission"):
                r = first_row(resp, outcome=name, visit=v, definition=definition)
                if r is None:
                    continue
                label = (f"response (≥ {fmt_num(100 * (as_float(r.get('threshold')) or improvement), 0)}%)"
                         if definition == "response" else f"remission (< {fmt_num(r.get('threshold'), 0)})")
                rd = percentage_points(r.get("risk_difference"), r.get("rd_ci_lower"), r.get("rd_ci_upper"))
                rows.append([visit_label(v), label,
                             f"{fmt_int(r.get('n_reference'))}/{fmt_int(r.get('N_reference'))} ({fmt_pct(r.get('pct_reference'), scale=1)})",
                             f"{fmt_int(r.get('n_treatment'))}/{fmt_int(r.get('N_treatment'))} ({fmt_pct(r.get('pct_treatment'), scale=1)})",
                             fmt_est_ci(*rd, 1) if rd[0] is not None else _nnt_text(r.get("nnt_note"))
                             if not_estimable_reason({"note": r.get("nnt_note")}) is not None else MISSING,
                             fmt_estimate(r, estimate="odds_ratio", lower="or_ci_lower", upper="or_ci_upper",
                                          note="or_note"),
                             _nnt_text(r.get("nnt_note")), fmt_p(r.get("fisher_p"), prefix=False)])
        if rows:
            groups.append((name, rows))
    blocks.append(table_block("Responders and remission by arm",
                              [("Visit", "text"), ("Definition", "text"), (c.reference_name, "num"),
                               (c.treatment_name, "num"),
                               ("Risk difference, % points (95% CI)", "ci"), ("Odds ratio (95% CI)", "ci"),
                               ("NNT (95% CI)", "wtext"), ("Fisher p", "num")], groups=groups, cls="wide",
                              note="n/N (%) of the participants assessed at the visit. NNTB/NNTH: number needed to treat "
                                   "for one more benefit/harm; an interval through ∞ includes no difference."))
    return blocks + c.figures_for("responders")
