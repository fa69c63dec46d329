"""The appendix: model diagnostics, covariance structures and convergence, all contrasts and
descriptives, software versions, input checksums, the config as used and how to reproduce it."""

from __future__ import annotations

from pilottrial.report.format import (
    MISSING,
    arm_label,
    as_float,
    fmt_ci,
    fmt_int,
    fmt_num,
    fmt_p,
    not_estimable_reason,
    not_estimable_text,
    text_or_missing,
    visit_label,
)
from pilottrial.report.sections.blocks import para, table_block
from pilottrial.report.sections.context import Context
from pilottrial.report.sections.labels import structure_name
from pilottrial.report.sections.tables import first_row, has_columns

__all__ = ["diagnostics_section", "covariance_section", "all_contrasts_section", "descriptives_section",
           "software_section", "checksums_section", "config_section", "reproduce_section"]


def diagnostics_section(c: Context) -> list[dict]:
    """A.1: the residual diagnostics figures."""
    figs = c.figures_for("diagnostics")
    return figs or [para("No model diagnostics figure was supplied.")]


def covariance_section(c: Context) -> list[dict]:
    """A.2: the models fitted, their covariance structure and fit statistics."""
    models = c.t("models")
    if not has_columns(models, "outcome", "model", "covariance"):
        return [para("No model table was produced.")]
    wanted = str(c.analysis.get("covariance", "us"))
    chain = [str(s) for s in c.analysis.get("fallback", []) or []]
    rows = []
    for r in models.itertuples():
        attempts = as_float(getattr(r, "fallback_attempts", None))
        rows.append([text_or_missing(r.outcome),
                     {"mmrm": "MMRM", "lmm": "LMM (random intercept)"}.get(str(r.model), text_or_missing(r.model)),
                     structure_name(r.covariance) if text_or_missing(r.covariance) != MISSING else
                     not_estimable_text(not_estimable_reason(r) or "no fit"),
                     text_or_missing(getattr(r, "df_method", None)).replace("-", " "),
                     fmt_num(getattr(r, "neg2_reml_loglik", None), 2), fmt_num(getattr(r, "aic", None), 2),
                     fmt_int(getattr(r, "n_participants", None)), fmt_int(getattr(r, "n_observations", None)),
                     fmt_int(attempts)])
    fell_back = [r for r in models.itertuples() if str(r.model) == "mmrm" and str(r.covariance) != wanted
                 and text_or_missing(r.covariance) != MISSING]
    failed = [text_or_missing(r.outcome) for r in models.itertuples()
              if str(r.model) == "mmrm" and text_or_missing(r.covariance) == MISSING]
    note = (f"Requested MMRM structure: {structure_name(wanted)}; fallback chain: "
            f"{', '.join(structure_name(s) for s in chain) if chain else 'not used'}. ")
    if not fell_back and not failed:
        note += "Every MMRM converged with the requested structure."
    if fell_back:
        note += ("Structures used after non-convergence: "
                 + ", ".join(f"{r.outcome} ({structure_name(r.covariance)})" for r in fell_back) + ".")
    if failed:
        note += (" " if fell_back else "") + "No MMRM could be fitted for " + ", ".join(failed) + "."
    return [para(note), table_block("Models fitted: covariance structure used and fit statistics",
                                    [("Outcome", "text"), ("Model", "text"), ("Covariance", "text"), ("df method", "text"),
                                     ("−2 log L (REML)", "num"), ("AIC", "num"), ("Participants", "num"),
                                     ("Observations", "num"), ("Fallback attempts", "num")], rows, cls="wide")]


def all_contrasts_section(c: Context) -> list[dict]:
    """A.3: every MMRM and LMM contrast at every post-baseline visit."""
    contrasts = c.t("contrasts")
    if not has_columns(contrasts, "outcome", "model", "visit"):
        return [para("No contrasts table was produced.")]
    groups = []
    labels = {"mmrm": "MMRM", "lmm": "LMM (random intercept)"}
    for o in c.outcomes:
        rows = []
        decimals = c.decimals(o.name)[1]
        for model in ("mmrm", "lmm"):
            for v in c.post_baseline:
                r = c.contrast(o.name, model, v)
                if r is None:
                    continue
                reason = not_estimable_reason(r)
                if reason is not None and as_float(r.get("estimate")) is None:
                    rows.append([f"{labels[model]}, {visit_label(v)}", not_estimable_text(reason), MISSING, MISSING,
                                 MISSING, MISSING])
                    continue
                rows.append([f"{labels[model]}, {visit_label(v)}", fmt_num(r.get("estimate"), decimals),
                             fmt_num(r.get("std_error"), decimals),
                             fmt_ci(r.get("ci_lower"), r.get("ci_upper"), decimals), fmt_num(r.get("df"), 1),
                             fmt_p(r.get("p_value"), prefix=False)])
        if rows:
            groups.append((o.name, rows))
    return [table_block(f"All treatment contrasts ({c.treatment_name} minus {c.reference_name}): difference in "
                        f"{c.effect_measure.replace(' from baseline', '')}",
                        [("Model, visit", "text"), ("Estimate", "num"), ("SE", "num"), (f"{c.level} CI", "num"),
                         ("df", "num"), ("p", "num")], groups=groups)]


def descriptives_section(c: Context) -> list[dict]:
    """A.4: descriptive statistics of the scores by visit and arm."""
    desc = c.t("descriptives")
    if not has_columns(desc, "outcome", "arm", "visit"):
        return [para("No descriptives table was produced.")]
    groups = []
    for o in c.outcomes:
        decimals = c.decimals(o.name)[0]
        rows = []
        for v in c.visit_order:
            for arm in c.arms:
                r = first_row(desc, outcome=o.name, arm=arm, visit=v)
                if r is None or (as_float(r.get("n")) or 0) == 0:
                    continue
                change = (MISSING if as_float(r.get("change_mean")) is None else
                          f"{fmt_num(r.get('change_mean'), decimals)} ({fmt_num(r.get('change_sd'), decimals)})")
                rows.append([f"{visit_label(v)}, {arm_label(arm)}", fmt_int(r.get("n")), fmt_int(r.get("n_missing")),
                             f"{fmt_num(r.get('mean'), decimals)} ({fmt_num(r.get('sd'), decimals)})",
                             f"{fmt_num(r.get('median'), decimals)} [{fmt_num(r.get('q1'), decimals)}, "
                             f"{fmt_num(r.get('q3'), decimals)}]", change])
        if rows:
            groups.append((o.name, rows))
    return [table_block("Descriptive statistics of the scores by visit and arm",
                        [("Visit, arm", "text"), ("n", "num"), ("Missing", "num"), ("Mean (SD)", "num"),
                         ("Median [Q1, Q3]", "num"), ("Change from baseline, mean (SD)", "num")], groups=groups,
                        note="Visits at which an outcome was not scheduled are left out.")]


def software_section(c: Context) -> list[dict]:
    """A.5: Python and package versions."""
    packages = c.provenance.get("packages") or {}
    rows = [[str(k), text_or_missing(packages[k])] for k in sorted(packages, key=lambda s: str(s).lower())]
    python = c.provenance.get("python")
    if python:
        rows.insert(0, ["Python", text_or_missing(python)])
    return [table_block("Software versions", [("Package", "text"), ("Version", "text")], rows)]


def checksums_section(c: Context) -> list[dict]:
    """A.6: SHA-256 of every input file."""
    inputs = c.provenance.get("inputs")
    if not inputs:
        inputs = [{"role": "trial data", "path": c.provenance.get("data_path"),
                   "sha256": c.provenance.get("data_sha256")}]
    rows = [[text_or_missing(i.get("role")), text_or_missing(i.get("path")), text_or_missing(i.get("sha256"))]
            for i in inputs]
    return [para("SHA-256 checksums of the input files as read by this run (sha256sum of each file reproduces them)."),
            table_block("Input data checksums", [("Input", "text"), ("Path", "text"), ("SHA-256", "text")], rows,
                        cls="checksums")]


def config_section(c: Context) -> list[dict]:
    """A.7: the validated config as the analysis used it."""
    return [para("The validated configuration, with every default filled in, exactly as the analysis used it."),
            {"kind": "pre", "text": text_or_missing(c.provenance.get("config_yaml"))}]


def reproduce_section(c: Context) -> list[dict]:
    """A.8: the commands that reproduce and verify the results."""
    prov = c.provenance
    items = [
        ("Command", text_or_missing(prov.get("command"))),
        ("Or, for the demo trial", text_or_missing(prov.get("make_command", "make"))),
        ("Git commit", text_or_missing(prov.get("git_commit"))),
        ("Verify", text_or_missing(prov.get("verify_command", "make verify"))),
    ]
    return [
        para("Run from the project directory with the pinned environment (requirements.lock or environment.yml). "
             "Every output under the trial's results folder is listed with its SHA-256 in MANIFEST.sha256; the verify "
             "command reruns the pipeline from scratch in a temporary directory and compares each output with the "
             "manifest, file by file. Two runs of the same commit on the same data give byte-identical tables, "
             "figures, report and PDF."),
        {"kind": "dl", "items": [{"term": t, "desc": d} for t, d in items]},
    ]
