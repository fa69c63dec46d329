"""Self-contained, deterministic HTML statistical report of a pilot trial.

:func:`render_report` turns the config, the result tables of the pipeline, the figures and a
provenance record into one HTML document (inline CSS, figures embedded as ``data:`` URIs, no
network requests, no scripts) laid out in the order of the CONSORT extension for pilot trials;
:mod:`pilottrial.report.sections` builds its content and :mod:`pilottrial.report.format` formats
every number. :func:`render_crossover_report` is the report of a two-period crossover trial.
:func:`write_report` writes either to disk; :func:`pilottrial.report.pdf.write_pdf` prints it to PDF.

All number formatting goes through :func:`fmt_num` and :func:`fmt_p`. Missing or non-finite
numbers render as an em dash ("—"); negative numbers use a real minus sign ("−").
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import jinja2
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.data.table import read_table
from pilottrial.registry import TABLE_NAMES
from pilottrial.report.format import (
    MINUS,
    MISSING,
    and_list,
    arm_label,
    fmt_ci,
    fmt_int,
    fmt_num,
    fmt_p,
    text_or_missing,
)
from pilottrial.report.sections import build_document, figure_items, key_result_sentence
from pilottrial.report.sections.context import ci_level, df_label, outcomes_primary_first, trial_kind, trial_phase
from pilottrial.report.sections.sentences import contrast_sentence

__all__ = [
    "render_report",
    "render_crossover_report",
    "write_report",
    "read_tables",
    "fmt_num",
    "fmt_p",
    "fmt_ci",
    "key_result_sentence",
    "MISSING",
    "MINUS",
]

_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def _figure_items(figures: dict) -> list[dict]:
    """Figure dicts for the crossover template (``{caption: path}`` in dict order)."""
    items = []
    for i, block in enumerate(figure_items(figures), start=1):
        items.append({"number": i, "caption": block["caption"],
                      "alt": f"Figure {i}: {block['caption']}" if block["caption"] else f"Figure {i}",
                      "src": block["src"]})
    return items


def _provenance(provenance: dict) -> dict:
    packages = provenance.get("packages") or {}
    return {
        "config_yaml": text_or_missing(provenance.get("config_yaml")),
        "data_sha256": text_or_missing(provenance.get("data_sha256")),
        "data_path": text_or_missing(provenance.get("data_path")),
        "git_commit": text_or_missing(provenance.get("git_commit")),
        "command": text_or_missing(provenance.get("command")),
        "packages": [
            {"name": str(k), "version": text_or_missing(packages[k])}
            for k in sorted(packages, key=lambda s: str(s).lower())
        ],
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def read_tables(tables_dir: str | PathLike, names=TABLE_NAMES) -> dict[str, pd.DataFrame]:
    """``{name: DataFrame}`` of the result tables ``<tables_dir>/<name>.csv`` that exist."""
    out = {}
    for name in names:
        path = Path(tables_dir) / f"{name}.csv"
        if path.is_file():
            out[name] = read_table(path)
    return out


def render_report(config: dict, tables: dict[str, pd.DataFrame], figures: dict, provenance: dict,
                  warnings: list[str] | None = None) -> str:
    """Render the statistical report of a parallel trial as one self-contained HTML document.

    The trial is called a pilot (or feasibility) trial only when ``trial.phase`` says so; any
    other is a "randomized trial". The report fits any valid trial (any number of participants,
    visits and outcomes, any labels): rows the analyses marked not estimable read
    "not estimable (reason)", absent tables are said to be absent, and a section that cannot be
    written is replaced by a note (the traceback goes to stderr, the rule's log).

    Parameters
    ----------
    config : dict
        The validated trial config.
    tables : dict
        ``{name: DataFrame}`` of the result tables (``results/<trial>/tables/<name>.csv``), names
        from :data:`pilottrial.registry.TABLE_NAMES`: ``contrasts, descriptives, models,
        multiplicity, effect_sizes, responders, posterior, sensitivity, missing_data,
        multiple_imputation, tipping_point, adverse_events, dissociation, feasibility,
        progression, mechanism, estimands``. A missing table gives a short "not produced" note
        in its section, never an error.
    figures : dict
        ``{key: {"path": png, "caption": str, "section": str[, "alt": str]}}`` in the order
        they are to appear; ``section`` names the report section (``flow, baseline,
        feasibility, outcomes, effect-sizes, bayes, responders, sensitivity, missing-data,
        harms, mechanism, diagnostics``; see ``FIGURE_SECTIONS`` for aliases), anything else
        goes to "Other figures". The older ``{caption: path}`` form is placed under outcomes.
    provenance : dict
        :func:`pilottrial.provenance.record.provenance`: ``config_yaml, inputs (role, path, sha256),
        data_path, data_sha256, packages, python, git_commit, command, verify_command``.
    warnings : list of str, optional
        Data warnings from earlier steps, shown before the generated ones.

    Returns
    -------
    str
        The HTML document. The same inputs always give the same string.

    Raises
    ------
    ValueError
        If a figure file is not a PNG.
    """
    trial = Trial.from_config(config)
    document = build_document(config, tables, figures, provenance, warnings)
    kind = trial_kind(trial)
    guideline = ("the CONSORT 2010 extension to randomised pilot and feasibility trials" if trial_phase(trial)
                 else "the CONSORT 2010 statement")
    context = {
        "title": trial.title or trial.name or f"Randomized {kind}",
        "subtitle": f"Statistical report of a randomized {kind} ({text_or_missing(trial.name)}): "
                    f"{and_list([arm_label(a) for a in trial.treatments])} versus {arm_label(trial.reference)}. "
                    f"Structured after {guideline}.",
        "trial_name": text_or_missing(trial.name),
        "reference": trial.reference,
        "treatment": ", ".join(trial.treatments),
        "parts": document["parts"],
    }
    html = _environment().get_template("report.html").render(**context)
    return html.replace("\r\n", "\n")


def write_report(path: str | PathLike, html: str) -> None:
    """Write the HTML report as UTF-8 with ``"\\n"`` line endings.

    Parameters
    ----------
    path : str or path-like
        Output file; parent directories are created.
    html : str
        Document from :func:`render_report` or :func:`render_crossover_report`.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = html.replace("\r\n", "\n").replace("\r", "\n")
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def render_crossover_report(config: dict, contrasts: pd.DataFrame, carryover: pd.DataFrame,
                            descriptives: pd.DataFrame, models: pd.DataFrame,
                            figures: dict[str, str | PathLike], provenance: dict,
                            table: pd.DataFrame) -> str:
    """The statistical report of a two-period crossover trial (self-contained HTML).

    Inputs are the tables of :mod:`pilottrial.models.crossover`: contrasts (the contrasts.csv
    contract), the carry-over/period table, descriptives (``by == "treatment x period"`` rows
    are shown) and the model table (participants per sequence, covariance parameters).
    """
    trial = Trial.from_config(config)
    reference, treatment = (arm_label(a) for a in trial.arms)
    crossover = trial.section("crossover")
    level = ci_level(trial)
    df_name = df_label(trial)
    model = models.iloc[0] if len(models) else {}
    terms = ["treatment", "period"]
    if crossover.get("adjust_sequence", True):
        terms.append("sequence")
    if crossover.get("adjust_period_baseline", True):
        terms.append("period baseline")
    information = str(model.get("information", "")) if len(models) else ""
    methods = [
        f"The change from the period baseline was analysed with a linear mixed model: change ~ "
        f"{' + '.join(terms)}, with a random intercept per participant, fitted by restricted maximum "
        f"likelihood (REML). The treatment effect is the difference {treatment} minus {reference}; "
        f"{level} confidence intervals use the t distribution with {df_name} degrees of "
        f"freedom" + (f" ({information} information)" if df_name == "Kenward-Roger" and information else "")
        + ". Participants with only one period contribute to the model through the random intercept.",
        "Carry-over was checked by comparing the participant totals between sequences (Grizzle 1965; "
        "Hills & Armitage 1979); this test has low power and, following Senn (2002), did not decide the "
        "analysis. The period effect is shown beside it.",
    ]
    if trial_phase(trial):
        methods.append(f"This is a {trial_kind(trial)}, so the emphasis is on estimation: effects are reported with "
                       "their confidence intervals first, and p-values are given last, for completeness only.")
    sentences = []
    for outcome in outcomes_primary_first(trial):
        rows = contrasts[contrasts["outcome"] == outcome.name]
        for _, row in rows.iterrows():
            sentences.append(contrast_sentence(trial, outcome, str(row["visit"]), row))
    contrast_rows = [{
        "outcome": r.outcome, "model": "LMM (crossover)", "visit": r.visit, "estimate": fmt_num(r.estimate),
        "se": fmt_num(r.std_error), "ci": fmt_ci(r.ci_lower, r.ci_upper), "df": fmt_num(r.df, 1),
        "p": fmt_p(r.p_value, prefix=False)} for r in contrasts.itertuples()]
    carryover_rows = [{
        "outcome": r.outcome, "effect": r.effect, "contrast": r.contrast, "method": r.method,
        "estimate": fmt_num(r.estimate), "ci": fmt_ci(r.ci_lower, r.ci_upper), "df": fmt_num(r.df, 1),
        "p": fmt_p(r.p_value, prefix=False)} for r in carryover.itertuples()]
    shown = descriptives[descriptives["by"] == "treatment x period"] if "by" in descriptives else descriptives
    descriptive_rows = [{
        "outcome": r.outcome, "treatment": text_or_missing(r.treatment), "period": text_or_missing(r.period),
        "variable": r.variable.replace("_", " "), "n": fmt_int(r.n), "mean": fmt_num(r.mean, 1),
        "sd": fmt_num(r.sd, 1)} for r in shown.itertuples()]
    sequences = []
    observed = table.dropna(subset=["change"])
    periods_done = observed.groupby("participant")["period"].nunique()
    for name, arms in (crossover.get("sequences") or {}).items():
        members = table.loc[table["sequence"].astype(str) == str(name), "participant"].unique()
        complete = int((periods_done.reindex(members).fillna(0) == 2).sum())
        sequences.append({"name": name, "first": arms[0], "second": arms[1], "n": fmt_int(len(members)),
                          "complete": fmt_int(complete)})
    context = {
        "title": trial.title or trial.name, "trial_name": trial.name, "kind": trial_kind(trial),
        "reference": reference, "treatment": treatment, "washout": crossover.get("washout"),
        "timepoint": crossover.get("timepoint", "the post-treatment rating"), "sequences": sequences,
        "methods": methods, "sentences": sentences, "contrast_rows": contrast_rows,
        "carryover_rows": carryover_rows, "descriptive_rows": descriptive_rows,
        "ci_level": level, "figures": _figure_items(figures), "provenance": _provenance(provenance),
    }
    return _environment().get_template("crossover_report.html").render(**context)
