"""The statistical report of a parallel pilot trial as a document model, section by section.

:func:`build_document` turns the config, the result tables of the pipeline
(``results/<trial>/tables/*.csv``, as DataFrames keyed by file stem), the figures and the
provenance record into a list of sections in the order of the CONSORT extension for pilot and
feasibility trials (Eldridge et al. 2016): summary, objectives, trial design, estimands,
methods; participant flow, baseline data, feasibility and progression criteria, outcomes and
estimation, effect sizes, Bayesian reading, responders, sensitivity analyses, missing data,
harms, mechanism; data warnings and limitations; an appendix with the model diagnostics, the
covariance structures used, all contrasts and descriptives, software versions, data checksums,
the config as used and how to reproduce the results.

Each section is a dict ``{"id", "title", "part", "blocks"}``; a block is a paragraph
(``{"kind": "p"}``), a list (``"ul"``), a sub-heading (``"h4"``), a table (``"table"``: caption,
header rows, groups of body rows, note), a figure (``"figure"``), preformatted text (``"pre"``)
or a definition list (``"dl"``). :mod:`pilottrial.report.document` renders the model with one template.
Every number goes through :mod:`pilottrial.report.format`; every sentence is generated from
the tables, so the text and the tables cannot disagree.

:func:`sensitivity_agreement` (public, tidy) decides whether each sensitivity analysis agrees
with the primary analysis; :func:`data_warnings` and :func:`limitations` generate those
sections from the tables.

References
----------
Eldridge SM, Chan CL, Campbell MJ, et al. CONSORT 2010 statement: extension to randomised pilot
and feasibility trials. BMJ 2016;355:i5239.
"""

from __future__ import annotations

import base64
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pilottrial.registry import TABLE_NAMES, report_figure_specs  # noqa: F401 (re-exported)
from pilottrial.report.format import (
    ESTIMATE_DECIMALS,
    MISSING,
    as_float,
    fmt_ci,
    fmt_est_ci,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    text_or_missing,
    visit_label,
)

__all__ = [
    "TABLE_NAMES",
    "FIGURE_SECTIONS",
    "SECTION_ORDER",
    "STRUCTURE_NAMES",
    "ANALYSIS_LABELS",
    "AGREEMENT_DEFINITION",
    "build_document",
    "sensitivity_agreement",
    "data_warnings",
    "limitations",
    "key_result_sentence",
    "figure_items",
    "report_figure_specs",
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Section ids in document order, with their titles and the part they belong to.
SECTION_ORDER = (
    ("summary", "Summary", "front"),
    ("contents", "Contents", "front"),
    ("objectives", "Objectives", "methods"),
    ("design", "Trial design", "methods"),
    ("estimands", "Estimands", "methods"),
    ("methods", "Statistical methods", "methods"),
    ("flow", "Participant flow", "results"),
    ("baseline", "Baseline data", "results"),
    ("feasibility", "Feasibility and progression criteria", "results"),
    ("outcomes", "Outcomes and estimation", "results"),
    ("effect-sizes", "Standardized effect sizes", "results"),
    ("bayes", "Bayesian reading", "results"),
    ("responders", "Responders and remission", "results"),
    ("sensitivity", "Sensitivity analyses", "results"),
    ("missing-data", "Missing data", "results"),
    ("harms", "Harms", "results"),
    ("mechanism", "Mechanism", "results"),
    ("other-figures", "Other figures", "results"),
    ("planning", "Planning the definitive trial", "discussion"),
    ("warnings", "Data warnings", "discussion"),
    ("limitations", "Limitations", "discussion"),
    ("diagnostics", "A.1 Model diagnostics", "appendix"),
    ("covariance", "A.2 Covariance structures and convergence", "appendix"),
    ("all-contrasts", "A.3 All treatment contrasts", "appendix"),
    ("descriptives", "A.4 Descriptive statistics", "appendix"),
    ("software", "A.5 Software", "appendix"),
    ("checksums", "A.6 Data checksums", "appendix"),
    ("config", "A.7 Configuration as used", "appendix"),
    ("reproduce", "A.8 Reproducing this report", "appendix"),
)

PARTS = {
    "methods": "Introduction and methods",
    "results": "Results",
    "discussion": "Discussion",
    "appendix": "Appendix",
}

#: Figure ``section`` values the report places (aliases on the right map to the ids on the left).
FIGURE_SECTIONS = {
    "flow": ("flow", "consort", "participant-flow", "participant flow"),
    "baseline": ("baseline", "table1", "table-1", "table 1"),
    "feasibility": ("feasibility", "progression"),
    "outcomes": ("outcomes", "primary", "secondary", "outcome", "efficacy"),
    "effect-sizes": ("effect-sizes", "effect_sizes", "effect sizes"),
    "bayes": ("bayes", "posterior", "bayesian"),
    "responders": ("responders", "responder", "waterfall"),
    "sensitivity": ("sensitivity", "forest"),
    "missing-data": ("missing-data", "missing_data", "missing data", "missing", "tipping", "tipping-point"),
    "harms": ("harms", "adverse-events", "adverse_events", "dissociation"),
    "mechanism": ("mechanism",),
    "planning": ("planning", "power", "sample-size"),
    "diagnostics": ("diagnostics", "residuals", "residual-diagnostics", "appendix", "model-diagnostics"),
}
_FIGURE_ALIASES = {alias: key for key, aliases in FIGURE_SECTIONS.items() for alias in aliases}

STRUCTURE_NAMES = {
    "us": "unstructured", "cs": "compound-symmetry", "csh": "heterogeneous compound-symmetry",
    "ar1": "first-order autoregressive", "ar1h": "heterogeneous first-order autoregressive",
    "toep": "Toeplitz", "toeph": "heterogeneous Toeplitz", "ad": "first-order ante-dependence",
    "adh": "heterogeneous first-order ante-dependence",
}

#: Reader-facing names of the ``analysis`` values of sensitivity.csv and multiple_imputation.csv.
ANALYSIS_LABELS = {
    "ancova_complete_case": "ANCOVA, complete cases at the visit",
    "mixed_anova_complete_case": "Mixed ANOVA, complete cases (Welch t at the visit)",
    "gee_bias_reduced": "GEE, exchangeable, Mancl-DeRouen bias-reduced SE",
    "randomization_test": "Randomization test of the MMRM t (p-value only)",
    "mann_whitney": "Hodges-Lehmann shift with Mann-Whitney test (no model)",
    "lmm_random_intercept": "LMM with random participant intercept",
    "mi_mar": "Multiple imputation under MAR",
    "mi_j2r": "Multiple imputation, jump to reference",
    "mi_cir": "Multiple imputation, copy increments in reference",
    "mi_cr": "Multiple imputation, copy reference",
}
_P_ONLY_ANALYSES = {"randomization_test"}

AGREEMENT_DEFINITION = (
    "A sensitivity analysis agrees with the primary analysis (the MMRM) at an outcome and visit when "
    "(1) its estimate has the same direction (sign) as the primary estimate and (2) its conclusion "
    "is unchanged: its {level} confidence interval excludes 0 exactly when the primary interval does. "
    "For the randomization test, which gives a p-value and no interval of its own, the conclusion is "
    "p < {alpha}. An analysis without an estimate or interval cannot be judged (shown as —)."
)

_STRATEGY_ORDER = ["treatment policy", "hypothetical", "composite", "while on treatment", "principal stratum"]


# ---------------------------------------------------------------------------------------------
# config helpers
# ---------------------------------------------------------------------------------------------
def _outcomes(config: dict) -> list[dict]:
    """Outcome configs, primary outcome first, otherwise in config order."""
    ocs = [dict(o) for o in (config.get("outcomes", []) or [])]
    return sorted(ocs, key=lambda o: 0 if o.get("primary") else 1)


def _efficacy(config: dict) -> list[dict]:
    return [o for o in _outcomes(config) if o.get("role", "efficacy") != "mechanism"]


def _mechanism(config: dict) -> list[dict]:
    return [o for o in _outcomes(config) if o.get("role") == "mechanism"]


def _primary(config: dict) -> dict | None:
    outcomes = _outcomes(config)
    return outcomes[0] if outcomes else None


def _visit_order(config: dict) -> list[str]:
    return [str(v) for v in (config.get("visits", {}) or {}).get("order", []) or []]


def _baseline(config: dict) -> str | None:
    visits = config.get("visits", {}) or {}
    if visits.get("baseline") is not None:
        return str(visits["baseline"])
    order = _visit_order(config)
    return order[0] if order else None


def _post_baseline(config: dict) -> list[str]:
    base = _baseline(config)
    return [v for v in _visit_order(config) if v != base]


def _key_visits(config: dict) -> list[str]:
    key = [str(v) for v in (config.get("visits", {}) or {}).get("key", []) or []]
    return key or _post_baseline(config)


def _visits_key_first(config: dict) -> list[str]:
    """Post-baseline visits with the key visits first (in their order), then the others."""
    key = _key_visits(config)
    return key + [v for v in _post_baseline(config) if v not in key]


def _arms(config: dict) -> tuple[str, str]:
    arms = config.get("arms", {}) or {}
    return str(arms.get("reference", "reference")), str(arms.get("treatment", "treatment"))


def _analysis(config: dict) -> dict:
    return config.get("analysis", {}) or {}


def _alpha(config: dict) -> float:
    alpha = as_float(_analysis(config).get("alpha", 0.05))
    return alpha if alpha is not None and 0.0 < alpha < 1.0 else 0.05


def _ci_level(config: dict) -> str:
    return f"{100.0 * (1.0 - _alpha(config)):g}%"


def _df_label(config: dict) -> str:
    method = str(_analysis(config).get("df_method", "satterthwaite"))
    key = method.lower().replace("_", "-").replace(" ", "-")
    if key in ("kenward-roger", "kenwardroger", "kr"):
        return "Kenward-Roger"
    if key == "kenward-roger-linear":
        return "Kenward-Roger (linear)"
    return "Satterthwaite"


def _structure_name(code: Any) -> str:
    return STRUCTURE_NAMES.get(str(code), text_or_missing(code))


def _analysis_label(analysis: str) -> str:
    if analysis in ANALYSIS_LABELS:
        return ANALYSIS_LABELS[analysis]
    if analysis.startswith("mmrm_"):
        return f"MMRM, {_structure_name(analysis[5:])} covariance"
    return analysis.replace("_", " ")


def _join(items: list[str], word: str = "and") -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _an(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


# ---------------------------------------------------------------------------------------------
# table access
# ---------------------------------------------------------------------------------------------
def _t(tables: dict, name: str) -> pd.DataFrame:
    table = tables.get(name)
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame()


def _has(table: pd.DataFrame, *columns: str) -> bool:
    return not table.empty and set(columns) <= set(table.columns)


def _select(table: pd.DataFrame, **equal) -> pd.DataFrame:
    if table.empty:
        return table
    mask = np.ones(len(table), dtype=bool)
    for column, value in equal.items():
        if column not in table.columns:
            return table.iloc[0:0]
        mask &= (table[column].astype(str) == str(value)).to_numpy()
    return table.loc[mask]


def _first(table: pd.DataFrame, **equal) -> pd.Series | None:
    rows = _select(table, **equal)
    return rows.iloc[0] if len(rows) else None


def _truthy(x: Any) -> bool | None:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    text = str(x).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def _mmrm_row(tables: dict, outcome: str, visit: str) -> pd.Series | None:
    contrasts = _t(tables, "contrasts")
    if not _has(contrasts, "outcome", "model", "visit"):
        return None
    rows = contrasts[(contrasts["outcome"].astype(str) == outcome)
                     & (contrasts["model"].astype(str).str.lower() == "mmrm")
                     & (contrasts["visit"].astype(str) == visit)]
    return rows.iloc[0] if len(rows) else None


# ---------------------------------------------------------------------------------------------
# block constructors
# ---------------------------------------------------------------------------------------------
def _p(text: str, cls: str = "") -> dict:
    return {"kind": "p", "text": text, "cls": cls}


def _ul(items: list[str], cls: str = "") -> dict:
    return {"kind": "ul", "items": list(items), "cls": cls}


def _h4(text: str) -> dict:
    return {"kind": "h4", "text": text}


def _cell(text: Any, *, num: bool = False, th: bool = False, scope: str = "", colspan: int = 1,
          rowspan: int = 1, cls: str = "") -> dict:
    classes = " ".join(c for c in (("num" if num else ""), cls) if c)
    return {"text": text_or_missing(text) if not isinstance(text, str) else (text or MISSING),
            "th": th, "scope": scope, "colspan": colspan, "rowspan": rowspan, "cls": classes}


def _table(caption: str, columns: list[tuple[str, str]], rows: list[list[Any]] | None = None, *,
           groups: list[tuple[str | None, list[list[Any]]]] | None = None,
           spanners: list[tuple[str, int]] | None = None, note: str = "", cls: str = "",
           row_classes: dict | None = None) -> dict:
    """A table block.

    ``columns`` are ``(label, kind)`` with kind ``"text"`` or ``"num"``; the first column holds
    row headers (``<th scope="row">``). ``groups`` are ``(label, rows)``: each a ``<tbody>``
    headed by a ``<th scope="rowgroup">`` row when the label is given. ``spanners`` are
    column-group headers ``(label, span)`` over the columns (``""`` for an empty spanner cell).
    A row may end with a dict ``{"cls": ...}`` to set its class.
    """
    head = []
    if spanners:
        head.append([_cell(label, th=True, scope="colgroup" if label else "", colspan=span,
                           cls="spanner" if label else "")
                     for label, span in spanners])
    head.append([_cell(label, th=True, scope="col", num=(kind in ("num", "ci")), cls="ci" if kind == "ci" else "")
                 for label, kind in columns])
    body_groups = []
    for label, group_rows in (groups if groups is not None else [(None, rows or [])]):
        body = []
        for row in group_rows:
            row_cls = ""
            if row and isinstance(row[-1], dict):
                row_cls = row[-1].get("cls", "")
                row = row[:-1]
            cells = []
            for i, (value, (_, kind)) in enumerate(zip(row, columns)):
                if i == 0:
                    cells.append(_cell(value, th=True, scope="row"))
                else:
                    cells.append(_cell(value, num=(kind in ("num", "ci")),
                                       cls={"ci": "ci", "wtext": "wtext"}.get(kind, "")))
            body.append({"cls": row_cls, "cells": cells})
        body_groups.append({"label": label, "rows": body})
    # columns whose every cell is short never wrap (visit labels, counts, short definitions)
    for j in range(len(columns)):
        texts = [row["cells"][j]["text"] for group in body_groups for row in group["rows"] if j < len(row["cells"])]
        if texts and max(len(t) for t in texts) <= 18:
            for group in body_groups:
                for row in group["rows"]:
                    if j < len(row["cells"]):
                        cell = row["cells"][j]
                        cell["cls"] = (cell["cls"] + " nowrap").strip()
    n_rows = sum(len(group["rows"]) + (1 if group["label"] else 0) for group in body_groups)
    if n_rows <= 24:  # a short table is never split across pages (nor its caption left behind)
        cls = (cls + " keep").strip()
    return {"kind": "table", "caption": caption, "head": head, "groups": body_groups,
            "ncols": len(columns), "note": note, "cls": cls}


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------
def _normalize_figures(figures: dict | None) -> list[dict]:
    """``{key: {"path", "caption", "section"[, "alt"]}}`` (or the older ``{caption: path}``)."""
    items = []
    for key, spec in (figures or {}).items():
        if isinstance(spec, (str, PathLike)):
            spec = {"path": spec, "caption": str(key), "section": "outcomes"}
        spec = dict(spec)
        section = str(spec.get("section", "")).strip().lower()
        items.append({
            "key": str(key),
            "path": spec["path"],
            "caption": str(spec.get("caption") or key).strip(),
            "alt": str(spec.get("alt") or "").strip(),
            "section": _FIGURE_ALIASES.get(section, _FIGURE_ALIASES.get(section.replace("_", "-"),
                                                                       "other-figures")),
            "outcome": str(spec.get("outcome") or ""),
            "wide": bool(spec.get("wide")),
        })
    return items


def figure_items(figures: dict | None) -> list[dict]:
    """Figure blocks (PNG embedded as ``data:`` URI, alt text, caption, section), in dict order.

    Raises
    ------
    ValueError
        If a figure file is not a PNG.
    """
    blocks = []
    for item in _normalize_figures(figures):
        data = Path(item["path"]).read_bytes()
        if not data.startswith(PNG_MAGIC):
            raise ValueError(f"figure {item['key']!r} at {item['path']} is not a PNG file")
        caption = item["caption"]
        alt = item["alt"] or (caption if caption else f"Figure {item['key']}")
        blocks.append({"kind": "figure", "section": item["section"], "outcome": item["outcome"],
                       "caption": caption, "alt": alt,
                       "cls": f"fig-{item['section']}" + (" fig-wide" if item["wide"] else ""),
                       "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")})
    return blocks


# ---------------------------------------------------------------------------------------------
# generated sentences
# ---------------------------------------------------------------------------------------------
def key_result_sentence(config: dict, outcome: dict, visit: str, row: pd.Series | dict | None) -> str:
    """One generated sentence for an outcome at a visit (MMRM contrast).

    Parameters
    ----------
    config : dict
        Trial configuration.
    outcome : dict
        The outcome's config entry (``name``, ``better``, ...).
    visit : str
        Visit label; a number with a unit is written out ("30d" -> "30 days").
    row : pandas.Series, dict or None
        The contrast row (``estimate, ci_lower, ci_upper, df, p_value``); ``None`` when no
        contrast is available.

    Returns
    -------
    str
        E.g. "At 24 hours, CAPS-5 improved by 12.30 more points with ketamine than with
        midazolam (difference in mean change −12.30 points; 95% CI −19.89 to −4.71;
        Satterthwaite df 24.0; p = 0.003)."
    """
    reference, treatment = _arms(config)
    name = str(outcome.get("name"))
    when = visit_label(visit)
    if row is None:
        return f"At {when}, no {name} contrast is available."
    est = as_float(row.get("estimate"))
    if est is None:
        return f"At {when}, the {name} difference between {treatment} and {reference} could not be estimated."
    better = outcome.get("better", "lower")
    magnitude = fmt_num(abs(est), ESTIMATE_DECIMALS)
    if better in ("lower", "higher") and fmt_num(est, ESTIMATE_DECIMALS) != fmt_num(0, ESTIMATE_DECIMALS):
        favours = (est < 0) if better == "lower" else (est > 0)
        verb = "improved" if favours else "worsened"
        lead = f"At {when}, {name} {verb} by {magnitude} more points with {treatment} than with {reference}"
    else:
        lead = (f"At {when}, {name} changed by {fmt_num(est, ESTIMATE_DECIMALS, signed=True)} points more "
                f"with {treatment} than with {reference}")
    details = (
        f"difference in mean change {fmt_num(est, ESTIMATE_DECIMALS)} points; "
        f"{_ci_level(config)} CI {fmt_ci(row.get('ci_lower'), row.get('ci_upper'), ESTIMATE_DECIMALS)}; "
        f"{_df_label(config)} df {fmt_num(row.get('df'), 1)}; "
        f"{fmt_p(row.get('p_value'))}"
    )
    return f"{lead} ({details})."


def _favours(outcome: dict, estimate: float | None) -> bool | None:
    if estimate is None or estimate == 0:
        return None
    return (estimate < 0) if outcome.get("better", "lower") == "lower" else (estimate > 0)


# ---------------------------------------------------------------------------------------------
# agreement of the sensitivity analyses with the primary analysis
# ---------------------------------------------------------------------------------------------
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
    alpha = _alpha(config)
    frames = [f for f in (sensitivity, imputation) if isinstance(f, pd.DataFrame) and not f.empty]
    rows = []
    if not frames or contrasts is None or contrasts.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS).astype({"agrees": "boolean"})
    candidates = pd.concat(frames, ignore_index=True)
    analyses = list(dict.fromkeys(candidates["analysis"].astype(str)))
    tables = {"contrasts": contrasts}
    for outcome in _efficacy(config):
        name = str(outcome["name"])
        for visit in _key_visits(config):
            primary = _mmrm_row(tables, name, visit)
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
                basis = "p" if analysis in _P_ONLY_ANALYSES else "ci"
                same = None if est is None or p_est is None else bool(np.sign(est) == np.sign(p_est))
                if basis == "p":
                    excl = None if p is None else p < alpha
                    primary_conclusion = None if p_excl is None else p_excl
                else:
                    excl = _excludes_zero(lo, hi)
                    primary_conclusion = p_excl
                agrees = (None if same is None or excl is None or primary_conclusion is None
                          else bool(same and excl == primary_conclusion))
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


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------
class _Context:
    """What every section builder needs: the config, the tables and a few derived facts."""

    def __init__(self, config: dict, tables: dict, figures: list[dict], provenance: dict,
                 warnings: list[str] | None):
        self.config = config
        self.tables = tables
        self.figures = figures
        self.provenance = provenance or {}
        self.extra_warnings = [str(w) for w in (warnings or []) if str(w).strip()]
        self.reference, self.treatment = _arms(config)
        self.level = _ci_level(config)
        self.alpha = _alpha(config)
        self.df_label = _df_label(config)
        self.primary = _primary(config)
        self.n_by_arm = self._randomized()

    def t(self, name: str) -> pd.DataFrame:
        return _t(self.tables, name)

    def _randomized(self) -> dict[str, int | None]:
        """Participants randomized per arm: feasibility.csv, else the baseline descriptives."""
        feas = self.t("feasibility")
        out: dict[str, int | None] = {}
        for arm in (self.reference, self.treatment):
            row = _first(feas, measure="randomized", arm=arm) if _has(feas, "measure", "arm") else None
            value = as_float(row.get("value")) if row is not None else None
            out[arm] = int(round(value)) if value is not None else None
        if all(v is not None for v in out.values()):
            return out
        desc = self.t("descriptives")
        base = _baseline(self.config)
        if _has(desc, "arm", "visit", "n"):
            rows = desc[desc["visit"].astype(str) == str(base)]
            for arm in (self.reference, self.treatment):
                best = None
                for _, r in rows[rows["arm"].astype(str) == arm].iterrows():
                    n = as_float(r.get("n"))
                    if n is None:
                        continue
                    total = int(round(n + (as_float(r.get("n_missing")) or 0.0)))
                    best = total if best is None else max(best, total)
                out[arm] = best
        return out

    @property
    def n_total(self) -> int | None:
        known = [n for n in self.n_by_arm.values() if n is not None]
        return sum(known) if known else None

    def arm_n_text(self) -> str:
        return (f"{fmt_int(self.n_by_arm.get(self.treatment))} {self.treatment}, "
                f"{fmt_int(self.n_by_arm.get(self.reference))} {self.reference}")

    def decimals(self, outcome: str) -> tuple[int, int]:
        """(descriptive, estimate) decimals of an outcome: (1, 2) for scores whose baseline SD is at
        least 1, (2, 3) for small-scale outcomes (e.g. % BOLD signal change)."""
        desc = self.t("descriptives")
        base = _baseline(self.config)
        if _has(desc, "outcome", "visit", "sd"):
            sds = [as_float(x) for x in _select(desc, outcome=outcome, visit=base)["sd"]]
            sds = [x for x in sds if x is not None]
            if sds and max(sds) < 1:
                return 2, 3
        return 1, ESTIMATE_DECIMALS

    def figures_for(self, section: str) -> list[dict]:
        return [f for f in self.figures if f["section"] == section]


def _summary(c: _Context) -> list[dict]:
    trial = c.config.get("trial", {}) or {}
    blocks = [_p(
        f"Randomized, parallel-group pilot trial of {c.treatment} versus {c.reference} "
        f"({text_or_missing(trial.get('name'))}); {fmt_int(c.n_total)} participants randomized "
        f"({c.arm_n_text()}). Effects are {c.treatment} minus {c.reference} differences in adjusted "
        f"mean change from baseline with {c.level} confidence intervals; as in any pilot trial, they "
        f"are estimates for planning, not tests of efficacy.")]
    if c.primary is not None:
        sentences = [key_result_sentence(c.config, c.primary, v, _mmrm_row(c.tables, c.primary["name"], v))
                     for v in _key_visits(c.config)]
        blocks.append(_h4(f"Primary outcome: {c.primary['name']}"))
        blocks.append(_ul(sentences, cls="key"))
    ae = c.t("adverse_events")
    if _has(ae, "term", "rd_ci_lower", "rd_ci_upper"):
        differ = [r for r in ae.itertuples()
                  if (as_float(r.rd_ci_lower) or 0) > 0 or (as_float(r.rd_ci_upper) or 0) < 0]
        if differ:
            blocks.append(_p("Harms: " + "; ".join(
                f"{r.term} in {fmt_pct(r.pct_treatment, scale=1)} of {c.treatment} and "
                f"{fmt_pct(r.pct_reference, scale=1)} of {c.reference} participants (risk difference "
                f"{fmt_est_ci(100 * as_float(r.risk_difference), 100 * as_float(r.rd_ci_lower), 100 * as_float(r.rd_ci_upper), 1)} "
                f"percentage points)" for r in differ) + "."))
    prog = c.t("progression")
    if _has(prog, "name", "met"):
        met = int((prog["met"].astype(str) == "met").sum())
        confident = sum(1 for x in prog.get("met_with_confidence", []) if _truthy(x))
        not_met = [str(n) for n, m in zip(prog["name"], prog["met"]) if str(m) != "met"]
        text = (f"Feasibility: {met} of {len(prog)} pre-specified progression criteria were met by their "
                f"point estimate ({confident} with the whole confidence interval at or above the threshold).")
        if not_met:
            text += " Not met: " + "; ".join(not_met) + "."
        blocks.append(_p(text))
    return blocks


def _objectives(c: _Context) -> list[dict]:
    key = _join([visit_label(v) for v in _key_visits(c.config)])
    efficacy = _efficacy(c.config)
    blocks = []
    if c.primary is not None:
        blocks.append(_p(
            f"Primary objective: to estimate the effect of {c.treatment} compared with {c.reference} on "
            f"{c.primary['name']} (primary outcome), as the difference in mean change from baseline at {key}, "
            f"with {c.level} confidence intervals."))
    secondary = [o["name"] for o in efficacy if not o.get("primary")]
    items = []
    if secondary:
        items.append(f"the same effect on the secondary outcomes {_join(secondary)}")
    if c.t("responders").shape[0]:
        items.append("the proportions of responders and remitters in each arm")
    harms = c.config.get("harms") or {}
    if harms:
        parts = []
        if harms.get("adverse_events"):
            parts.append("adverse events")
        if harms.get("dissociation"):
            d = harms["dissociation"]
            parts.append(f"dissociation ({d.get('name', 'CADSS')} at {d.get('timepoint', 'the infusion')})")
        items.append("harms: " + _join(parts))
    mechanism = _mechanism(c.config)
    if mechanism and c.primary is not None:
        items.append(f"whether the change in {_join([m['name'] for m in mechanism])} goes with the change in "
                     f"{c.primary['name']} (mechanism, exploratory)")
    if items:
        blocks.append(_p("Secondary objectives: " + "; ".join(items) + "."))
    criteria = (c.config.get("feasibility") or {}).get("progression_criteria") or []
    if c.config.get("feasibility"):
        text = ("Feasibility objectives: to estimate recruitment, eligibility, consent, retention and data "
                "completeness for a definitive trial")
        if criteria:
            text += f", judged against {len(criteria)} pre-specified progression criteria"
        blocks.append(_p(text + "."))
    return blocks


def _design(c: _Context) -> list[dict]:
    base = _baseline(c.config)
    visits = _visit_order(c.config)
    key = _key_visits(c.config)
    blocks = [_p(
        f"Randomized, parallel-group, two-arm pilot trial. {fmt_int(c.n_total)} participants were randomized "
        f"to {c.treatment} (treatment, n = {fmt_int(c.n_by_arm.get(c.treatment))}) or {c.reference} "
        f"(reference, n = {fmt_int(c.n_by_arm.get(c.reference))}). Outcomes were assessed at "
        f"{_join([visit_label(v) for v in visits])}"
        + (f" ({visit_label(base)} is the baseline)" if base and base.lower() != "baseline" else "")
        + f"; the key visits, reported first, are {_join([visit_label(v) for v in key])}.")]
    rows = []
    for o in _outcomes(c.config):
        rng = o.get("range")
        rng_text = (f"{fmt_num(rng[0], 0)} to {fmt_num(rng[1], 0)}"
                    if isinstance(rng, (list, tuple)) and len(rng) == 2 else MISSING)
        role = "primary" if o.get("primary") else ("mechanism" if o.get("role") == "mechanism" else "secondary")
        remission = o.get("remission_below")
        rows.append([o["name"], role, rng_text, {"lower": "lower", "higher": "higher"}.get(o.get("better"), MISSING),
                     fmt_num(o.get("mcid"), 0) if as_float(o.get("mcid")) is not None else MISSING,
                     f"< {fmt_num(remission, 0)}" if as_float(remission) is not None else MISSING])
    blocks.append(_table("Outcomes", [("Outcome", "text"), ("Role", "text"), ("Score range", "num"),
                                      ("Better", "text"), ("MCID (points)", "num"), ("Remission", "num")], rows,
                         note="MCID: minimal clinically important difference, used for the Bayesian reading. "
                              "Remission: score strictly below the cut-off."))
    return blocks


def _estimands(c: _Context) -> list[dict]:
    est = c.t("estimands")
    if not _has(est, "outcome", "intercurrent_event", "strategy"):
        return [_p("No estimand table was produced.")]
    rows = []
    names = [o["name"] for o in _outcomes(c.config)]
    order = {n: i for i, n in enumerate(names)}
    for outcome in sorted(dict.fromkeys(est["outcome"].astype(str)), key=lambda n: order.get(n, len(order))):
        sub = est[est["outcome"].astype(str) == outcome]
        first = sub.iloc[0]
        events = "; ".join(f"{text_or_missing(r.intercurrent_event)}: {text_or_missing(r.strategy)}"
                           for r in sub.itertuples())
        rows.append([outcome, text_or_missing(first.get("population")), text_or_missing(first.get("variable")),
                     text_or_missing(first.get("treatment")), events, text_or_missing(first.get("summary"))])
    return [
        _p("Estimands follow ICH E9(R1): the population, the variable (endpoint), the treatment conditions, "
           "the handling of each intercurrent event and the population-level summary."),
        _table("Estimands", [("Outcome", "text"), ("Population", "text"), ("Variable", "text"),
                             ("Treatment", "text"), ("Intercurrent events: strategy", "text"),
                             ("Population-level summary", "text")], rows, cls="wide text-table"),
    ]


def _model_text(config: dict, visits_txt: str) -> str:
    """The model in words, from the config (response scale, covariates, visits)."""
    analysis = _analysis(config)
    covariates = list(dict.fromkeys(list(analysis.get("covariates", []) or [])
                                    + list(analysis.get("strata", []) or [])))
    extra = "".join(f" + {c}" for c in covariates)
    if analysis.get("response") == "raw":
        return f"score ~ arm × visit{extra}, fitted to all visits ({visits_txt}) without a baseline covariate,"
    return f"change from baseline ~ baseline{extra} + arm × visit, fitted to the post-baseline visits ({visits_txt})"


def _structure_text(config: dict, models: pd.DataFrame | None) -> tuple[str, str]:
    """The covariance structure asked for, and a sentence on the fallback chain and its use."""
    analysis = _analysis(config)
    wanted = str(analysis.get("covariance", "us"))
    name = _structure_name(wanted)
    main = f"{_an(name)} covariance matrix"
    chain = [str(c) for c in analysis.get("fallback", []) or []]
    note = ""
    if chain:
        note = ("Had it failed to converge, the first converging of the "
                + ", ".join(_structure_name(s) for s in chain) + " structures would have been used")
    if models is not None and _has(models, "model", "covariance", "outcome"):
        mmrm = models[models["model"].astype(str) == "mmrm"]
        used = [f"{row.outcome} ({_structure_name(row.covariance)})"
                for row in mmrm.itertuples() if str(row.covariance) != wanted]
        if used and chain:
            note = (f"The {name} fit did not converge for " + ", ".join(used)
                    + ", where the structure in brackets, the first converging in the fallback chain, was used")
        elif chain:
            note += f"; the {name} fit converged for every outcome"
    return main, (note + ". ") if note else ""


def _methods(c: _Context) -> list[dict]:
    config = c.config
    analysis = _analysis(config)
    raw = analysis.get("response") == "raw"
    post = _visit_order(config) if raw else _post_baseline(config)
    visits_txt = ", ".join(post) if post else "the post-baseline visits"
    structure, fallback_note = _structure_text(config, c.t("models"))
    if c.df_label.startswith("Kenward-Roger"):
        cov = ("The covariance matrix of the fixed effects is the model-based (X′V̂⁻¹X)⁻¹ with the "
               "Kenward-Roger small-sample adjustment, and denominator degrees of freedom are obtained by "
               "the Kenward-Roger method")
    else:
        cov = ("The covariance matrix of the fixed effects is the model-based (X′V̂⁻¹X)⁻¹, and denominator "
               "degrees of freedom are obtained by the Satterthwaite approximation")
    blocks = [
        _h4("Primary analysis"),
        _p(f"Each outcome was analysed with a mixed model for repeated measures (MMRM): "
           f"{_model_text(config, visits_txt)} with {structure} of the repeated measurements within "
           f"participant, estimated by restricted maximum likelihood (REML). {fallback_note}{cov}; {c.level} "
           f"confidence intervals use the t distribution with these degrees of freedom (α = {fmt_num(c.alpha, 2)})."),
        _p(f"The treatment effect at each visit is the difference in adjusted mean change from baseline, "
           f"{c.treatment} minus {c.reference}. All randomized participants with a baseline score contribute; "
           f"the MMRM is valid when data are missing at random (MAR), which corresponds to the hypothetical "
           f"strategy for dropout in the estimands."),
        _p("This is a pilot trial, so the emphasis is on estimation: effects are reported with their "
           "confidence intervals first, and p-values are given last, for completeness only; they are not "
           "tests of efficacy."),
    ]
    multiplicity = str(analysis.get("multiplicity", "holm"))
    blocks.append(_h4("Multiplicity"))
    if multiplicity == "holm":
        blocks.append(_p("The primary outcome is not adjusted. The p-values of the secondary efficacy outcomes are "
                         "adjusted by Holm's step-down method across the secondary outcomes at each key visit; "
                         "mechanism outcomes are exploratory and not adjusted. Confidence intervals are not adjusted."))
    else:
        blocks.append(_p("No adjustment for multiplicity was made (the config sets analysis.multiplicity so)."))
    m = int(as_float(analysis.get("imputations")) or 100)
    step = fmt_num(analysis.get("tipping_delta_step", 1), 0 if float(analysis.get("tipping_delta_step", 1)).is_integer() else 1)
    dmax = fmt_num(analysis.get("tipping_delta_max", 20), 0 if float(analysis.get("tipping_delta_max", 20)).is_integer() else 1)
    blocks += [
        _h4("Missing data"),
        _p(f"The primary MMRM uses every observed score and assumes data missing at random (MAR). Multiple "
           f"imputation ({m} imputations; an MMRM imputation model with one baseline slope per visit, "
           f"unstructured covariance) re-estimated each key-visit difference by ANCOVA, pooled by Rubin's rules "
           f"with Barnard-Rubin degrees of freedom, under MAR and under three reference-based assumptions for "
           f"{c.treatment}-arm participants after their last observed visit: jump to reference (J2R), copy "
           f"increments in reference (CIR) and copy reference (CR) (Carpenter, Roger & Kenward 2013). A "
           f"delta-adjusted tipping-point analysis shifted the imputed {c.treatment}-arm values in the "
           f"unfavourable direction by δ = 0 to {dmax} points in steps of {step} at the last key visit, to find the "
           f"smallest shift that changes the conclusion."),
    ]
    sens = c.t("sensitivity")
    analyses = list(dict.fromkeys(sens["analysis"].astype(str))) if _has(sens, "analysis") else []
    draws = fmt_int(analysis.get("randomization_draws", 10000))
    seed = text_or_missing(analysis.get("seed"))
    descriptions = {
        "ancova_complete_case": "ANCOVA of the change at each key visit (change ~ baseline + arm), participants observed at that visit",
        "mixed_anova_complete_case": "mixed (split-plot) ANOVA of participants observed at every post-baseline visit, Greenhouse-Geisser corrected, with Welch t at each visit",
        "gee_bias_reduced": "generalized estimating equations with exchangeable working correlation and the Mancl-DeRouen bias-reduced sandwich covariance, t on N − p df",
        "randomization_test": f"randomization test of the MMRM t statistic ({draws} Monte Carlo re-randomizations of the arm labels, seed {seed})",
        "mann_whitney": "Mann-Whitney test of the change at each key visit with the Hodges-Lehmann shift and its order-statistic interval (no model)",
        "lmm_random_intercept": "linear mixed model with a random participant intercept (statsmodels MixedLM, REML, Satterthwaite df)",
    }
    items = []
    for a in analyses:
        if a in descriptions:
            items.append(descriptions[a])
        elif a.startswith("mmrm_"):
            items.append(f"the primary MMRM with {_an(_structure_name(a[5:]))} covariance")
        else:
            items.append(_analysis_label(a))
    mi = c.t("multiple_imputation")
    if _has(mi, "analysis"):
        items.append("the multiple imputations under MAR, J2R, CIR and CR described above")
    blocks.append(_h4("Sensitivity analyses"))
    if items:
        blocks.append(_p("Each sensitivity analysis re-estimates the treatment difference at the key visits of "
                         "each efficacy outcome:"))
        blocks.append(_ul([i[0].upper() + i[1:] + "." for i in items]))
        blocks.append(_p(AGREEMENT_DEFINITION.format(level=c.level, alpha=fmt_num(c.alpha, 2))))
    else:
        blocks.append(_p("No sensitivity analyses were run."))
    improvement = as_float(analysis.get("responder_improvement", 0.3)) or 0.3
    blocks += [
        _h4("Secondary analyses"),
        _ul([
            "Standardized effect sizes (Hedges' g): the MMRM difference over the pooled within-arm baseline SD, "
            "and the observed difference in mean change over its pooled SD, each with a 95% interval.",
            f"Responders: at least {fmt_num(100 * improvement, 0)}% improvement from baseline; remission: a score "
            "below the outcome's cut-off. Risk difference with the Newcombe hybrid-score interval, odds ratio with "
            "the Gart-adjusted logit interval, Fisher's exact test and the number needed to treat (Altman's notation "
            "when the interval includes no difference). Participants without a score at the visit are excluded.",
            "Bayesian reading: posterior probability that the treatment is better (and better by more than the MCID) "
            "from the normal likelihood of the MMRM estimate, under a flat prior and a sceptical prior N(0, s²) "
            "that gives 5% probability to a benefit beyond the MCID (s = MCID / 1.645).",
        ]),
    ]
    other = []
    if c.config.get("harms"):
        other.append("Harms: participants with each adverse event by arm, risk difference (Newcombe interval) and "
                     "Fisher's exact test; dissociation by arm with the Welch difference in means and the "
                     "Hodges-Lehmann shift.")
    if c.config.get("feasibility"):
        other.append("Feasibility: proportions with Wilson intervals; recruitment per month with an exact Poisson "
                     "interval; progression criteria compared with their thresholds by point estimate and by the "
                     "whole interval.")
    if _mechanism(c.config):
        other.append("Mechanism: Pearson and Spearman correlations of the change in each mechanism outcome with "
                     "the change in the primary outcome, within each arm and overall, with Fisher-z intervals; "
                     "descriptive only.")
    if other:
        blocks += [_h4("Harms, feasibility and mechanism"), _ul(other)]
    return blocks


def _flow(c: _Context) -> list[dict]:
    feas = c.t("feasibility")
    blocks: list[dict] = []
    blocks += c.figures_for("flow")

    def value(measure, arm="all", visit=None):
        if not _has(feas, "measure", "arm"):
            return None
        rows = _select(feas, measure=measure, arm=arm)
        if visit is not None and "visit" in rows.columns:
            rows = rows[rows["visit"].astype(str) == str(visit)]
        return rows.iloc[0] if len(rows) else None

    def count(row, column="value"):
        return as_float(row.get(column)) if row is not None else None

    screened = count(value("screened"))
    eligible = count(value("eligible"))
    randomized = c.n_total
    sentence = []
    if screened is not None and eligible is not None:
        sentence.append(f"Of {fmt_int(screened)} people screened, {fmt_int(eligible)} "
                        f"({fmt_pct(eligible / screened if screened else None)}) were eligible")
    if sentence:
        sentence.append(f"{fmt_int(randomized)} were randomized ({c.arm_n_text()})")
        text = sentence[0] + " and " + sentence[1]
    else:
        text = f"{fmt_int(randomized)} participants were randomized ({c.arm_n_text()})"
    last_key = _key_visits(c.config)[-1] if _key_visits(c.config) else None
    if last_key is not None:
        kept = value("retention", "all", last_key)
        if kept is not None:
            text += (f"; {fmt_int(count(kept, 'numerator'))} of {fmt_int(count(kept, 'denominator'))} "
                     f"({fmt_pct(count(kept, 'proportion'))}) were assessed at {visit_label(last_key)}")
    blocks.append(_p(text + "."))

    arms = [c.reference, c.treatment]
    rows = []
    if screened is not None:
        rows.append(["Screened", MISSING, MISSING, fmt_int(screened)])
    if eligible is not None:
        rows.append(["Eligible", MISSING, MISSING, fmt_int(eligible)])
    rows.append(["Randomized"] + [fmt_int(c.n_by_arm.get(a)) for a in arms] + [fmt_int(randomized)])
    received = [value("received_infusion", a) for a in arms + ["all"]]
    if any(r is not None for r in received):
        rows.append(["Received the allocated intervention"]
                    + [f"{fmt_int(count(r, 'numerator'))} / {fmt_int(count(r, 'denominator'))}" if r is not None
                       else MISSING for r in received])
    for visit in _post_baseline(c.config):
        kept = [value("retention", a, visit) for a in arms + ["all"]]
        if any(r is not None for r in kept):
            rows.append([f"Assessed at {visit_label(visit)}"]
                        + [f"{fmt_int(count(r, 'numerator'))} ({fmt_pct(count(r, 'proportion'))})" if r is not None
                           else MISSING for r in kept])
    models = c.t("models")
    if c.primary is not None and _has(models, "outcome", "model", "n_participants"):
        row = _first(models, outcome=c.primary["name"], model="mmrm")
        if row is not None:
            rows.append([f"Included in the primary MMRM ({c.primary['name']})", MISSING, MISSING,
                         fmt_int(row.get("n_participants"))])
    note = ""
    if received[0] is not None and "assumed" in str(received[0].get("note", "")):
        note = "Receipt of the intervention is " + str(received[0].get("note")) + "."
    blocks.append(_table("Participant flow (CONSORT)", [("Stage", "text"), (c.reference, "num"),
                                                        (c.treatment, "num"), ("Total", "num")], rows,
                         note=note))
    return blocks


def _table_one(c: _Context, table: pd.DataFrame) -> dict:
    """Table 1 from ``table_one.csv`` (:func:`pilottrial.report.figures.trial.table_one`)."""
    arms = [a for a in (c.reference, c.treatment) if a in table.columns]
    others = [a for a in table.columns if a not in {"variable", "level", "statistic", "overall", "smd", *arms}]
    arms += others
    rows = []
    for r in table.itertuples(index=False):
        row = r._asdict() if hasattr(r, "_asdict") else dict(zip(table.columns, r))
        variable, level = text_or_missing(row.get("variable")), text_or_missing(row.get("level"))
        statistic = text_or_missing(row.get("statistic"))
        if variable == "n":
            label = "Participants randomized"
        elif level == MISSING:
            label = f"{variable}, {statistic}"
        else:
            label = f"    {level}" if level != "missing" else "    missing, n"
        cells = [text_or_missing(row.get(a)) for a in arms]
        smd = as_float(row.get("smd"))
        rows.append([label.strip()] + cells + [text_or_missing(row.get("overall")),
                                               fmt_num(abs(smd), 2) if smd is not None else "",
                                               {"cls": "level" if label.startswith(" ") else ""}])
    columns = [("Characteristic", "text")] + [(a, "num") for a in arms] + [("Overall", "num"), ("|SMD|", "num")]
    return _table("Baseline characteristics by arm (Table 1)", columns, rows,
                  note="Mean (SD), median [IQR] or n (%). |SMD|: absolute standardized mean difference between the "
                       "arms, a description of chance imbalance; no tests are made (CONSORT item 15).")


def _baseline_section(c: _Context) -> list[dict]:
    blocks: list[dict] = list(c.figures_for("baseline"))
    if not c.t("table_one").empty:
        return blocks + [_table_one(c, c.t("table_one"))]
    desc = c.t("descriptives")
    base = _baseline(c.config)
    if not _has(desc, "outcome", "arm", "visit", "mean") or base is None:
        return blocks + [_p("No baseline descriptives were produced.")]
    arms = [c.reference, c.treatment]
    rows = []
    for o in _outcomes(c.config):
        cells = [o["name"]]
        for arm in arms:
            r = _first(desc, outcome=o["name"], arm=arm, visit=base)
            if r is None:
                cells += [MISSING, MISSING, MISSING]
                continue
            d = c.decimals(o["name"])[0]
            cells += [fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), d)} ({fmt_num(r.get('sd'), d)})",
                      f"{fmt_num(r.get('median'), d)} [{fmt_num(r.get('q1'), d)}, {fmt_num(r.get('q3'), d)}]"]
        rows.append(cells)
    cols = [("Outcome", "text")]
    for arm in arms:
        cols += [("n", "num"), ("Mean (SD)", "num"), ("Median [Q1, Q3]", "num")]
    blocks.append(_table(f"Baseline scores by arm ({visit_label(base)})", cols, rows,
                         spanners=[("", 1), (f"{c.reference} (n = {fmt_int(c.n_by_arm.get(c.reference))})", 3),
                                   (f"{c.treatment} (n = {fmt_int(c.n_by_arm.get(c.treatment))})", 3)],
                         note="Baseline differences between randomized arms are not tested (CONSORT): any "
                              "difference is due to chance."))
    return blocks


def _feasibility(c: _Context) -> list[dict]:
    feas = c.t("feasibility")
    prog = c.t("progression")
    blocks: list[dict] = []
    if not _has(feas, "measure", "arm"):
        blocks.append(_p("No feasibility table was produced."))
    else:
        labels = {"eligibility_rate": "Eligible among screened", "consent_rate": "Randomized among eligible",
                  "randomized": "Share of those randomized", "recruitment_per_month": "Randomized per month",
                  "received_infusion": "Received the allocated intervention", "retention": "Retention",
                  "completeness": "Data completeness"}
        arms = [c.reference, c.treatment, "all"]
        keys = []
        for r in feas.itertuples():
            measure = str(r.measure)
            visit = text_or_missing(getattr(r, "visit", None))
            if measure in labels and (measure, visit) not in keys:
                keys.append((measure, visit))
        rows = []
        for measure, visit in keys:
            what = labels[measure] + ("" if visit == MISSING else
                                      (", all visits" if visit == "all" else f" at {visit_label(visit)}"))
            cells = []
            for arm in arms:
                sel = _select(feas, measure=measure, arm=arm)
                if "visit" in sel.columns and visit != MISSING:
                    sel = sel[sel["visit"].astype(str) == visit]
                if sel.empty or (measure == "randomized" and arm == "all"):
                    cells.append(MISSING)
                    continue
                r = sel.iloc[0]
                if measure == "recruitment_per_month":
                    cells.append(f"{fmt_num(r.value, 2)} ({fmt_ci(r.ci_lower, r.ci_upper)}); "
                                 f"{fmt_int(r.numerator)} in {fmt_int(r.denominator)} months")
                else:
                    cells.append(f"{fmt_int(r.numerator)}/{fmt_int(r.denominator)}, {fmt_pct(r.proportion)} "
                                 f"({fmt_ci(100 * (as_float(r.ci_lower) or np.nan), 100 * (as_float(r.ci_upper) or np.nan), 1)})")
            rows.append([what] + cells)
        blocks.append(_table("Feasibility measures", [("Measure", "text"), (c.reference, "num"),
                                                      (c.treatment, "num"), ("All", "num")], rows,
                             note=f"n/N, percentage ({c.level} Wilson interval, %); recruitment: mean randomized per "
                                  f"month with an exact Poisson interval. Completeness: observed/expected scores of "
                                  f"the outcomes scheduled at the visit.", cls="wide"))
    if _has(prog, "name", "threshold", "observed", "met"):
        rows = []
        for r in prog.itertuples():
            rate = str(r.metric) != "recruitment_per_month"
            shown = (lambda x: fmt_pct(x)) if rate else (lambda x: fmt_num(x, 2))
            confident = _truthy(getattr(r, "met_with_confidence", None))
            rows.append([str(r.name), shown(r.threshold), f"{shown(r.observed)} ({shown(r.ci_lower)} to {shown(r.ci_upper)})",
                         text_or_missing(r.met), "yes" if confident else ("no" if confident is False else MISSING),
                         {"cls": "flag" if str(r.met) != "met" else ""}])
        blocks.append(_h4("Progression criteria"))
        blocks.append(_table("Pre-specified progression criteria", [
            ("Criterion", "text"), ("Threshold", "num"), (f"Observed ({c.level} CI)", "num"),
            ("Met (point estimate)", "text"), ("Whole CI at or above threshold", "text")], rows,
            note="A criterion met by its point estimate but not by its whole interval is met with uncertainty; "
                 "a pilot is usually too small for more."))
    blocks += c.figures_for("feasibility")
    return blocks


def _descr_cell(desc: pd.DataFrame, outcome: str, arm: str, visit: str) -> list[str]:
    r = _first(desc, outcome=outcome, arm=arm, visit=visit)
    if r is None:
        return [MISSING, MISSING, MISSING]
    change = (MISSING if as_float(r.get("change_mean")) is None
              else f"{fmt_num(r.get('change_mean'), 1)} ({fmt_num(r.get('change_sd'), 1)})")
    return [fmt_int(r.get("n")), f"{fmt_num(r.get('mean'), 1)} ({fmt_num(r.get('sd'), 1)})", change]


def _outcomes_section(c: _Context) -> list[dict]:
    desc = c.t("descriptives")
    mult = c.t("multiplicity")
    blocks: list[dict] = [_p(
        f"Treatment effects ({c.treatment} minus {c.reference}) from the MMRM, key visits first, with "
        f"{c.level} confidence intervals. For outcomes where lower scores are better, a negative difference "
        f"favours {c.treatment}.")]
    key = _key_visits(c.config)
    figures = c.figures_for("outcomes")
    blocks += [f for f in figures if not f["outcome"]]  # figures of all outcomes (the forest plot) first
    placed = set()
    for o in _efficacy(c.config):
        name = o["name"]
        blocks.append(_h4(f"{name}{' (primary outcome)' if o.get('primary') else ''}"))
        blocks.append(_ul([key_result_sentence(c.config, o, v, _mmrm_row(c.tables, name, v)) for v in key],
                          cls="key"))
        groups = []
        for label, visits in (("Key visits", key), ("Other visits", [v for v in _post_baseline(c.config)
                                                                      if v not in key])):
            rows = []
            for v in visits:
                contrast = _mmrm_row(c.tables, name, v)
                adj = _first(mult, outcome=name, model="mmrm", visit=v) if _has(mult, "outcome") else None
                adjusted = MISSING
                if adj is not None:
                    how = str(adj.get("adjustment", ""))
                    adjusted = "not adjusted" if how.startswith("none") else fmt_p(adj.get("p_adjusted"), prefix=False)
                rows.append([visit_label(v)] + _descr_cell(desc, name, c.reference, v)
                            + _descr_cell(desc, name, c.treatment, v)
                            + ([fmt_est_ci(contrast.get("estimate"), contrast.get("ci_lower"), contrast.get("ci_upper")),
                                fmt_p(contrast.get("p_value"), prefix=False)] if contrast is not None
                               else [MISSING, MISSING])
                            + [adjusted])
            if rows:
                groups.append((label, rows))
        cols = [("Visit", "text"), ("n", "num"), ("Score", "num"), ("Change", "num"),
                ("n", "num"), ("Score", "num"), ("Change", "num"),
                (f"Difference ({c.level} CI)", "ci"), ("p", "num"), ("p (Holm)", "num")]
        blocks.append(_table(
            f"{name}: observed scores by arm and the MMRM difference in adjusted mean change",
            cols, groups=groups,
            spanners=[("", 1), (c.reference, 3), (c.treatment, 3), (f"{c.treatment} − {c.reference} (MMRM)", 3)],
            note=f"Score and change from baseline: mean (SD) of the participants assessed at each visit; the difference is "
                 f"the MMRM estimate ({c.df_label} df). p (Holm): adjusted across the secondary outcomes at each key "
                 f"visit; the primary outcome is not adjusted.", cls="wide"))
        mine = [f for f in figures if f["outcome"] == name]
        blocks += mine
        placed.update(id(f) for f in mine)
    blocks += [f for f in figures if f["outcome"] and id(f) not in placed]
    return blocks


def _effect_sizes(c: _Context) -> list[dict]:
    es = c.t("effect_sizes")
    if not _has(es, "outcome", "visit", "method", "estimate"):
        return [_p("No effect-size table was produced.")]
    groups = []
    for o in _efficacy(c.config):
        rows = []
        for v in _key_visits(c.config):
            model = _first(es, outcome=o["name"], visit=v, method="mmrm_over_baseline_sd")
            observed = _first(es, outcome=o["name"], visit=v, method="observed_change")
            if model is None and observed is None:
                continue
            ns = model if model is not None else observed
            rows.append([visit_label(v),
                         fmt_est_ci(model.get("estimate"), model.get("ci_lower"), model.get("ci_upper"))
                         if model is not None else MISSING,
                         fmt_est_ci(observed.get("estimate"), observed.get("ci_lower"), observed.get("ci_upper"))
                         if observed is not None else MISSING,
                         f"{fmt_int(ns.get('n_reference'))} / {fmt_int(ns.get('n_treatment'))}"])
        if rows:
            groups.append((o["name"], rows))
    blocks = []
    if c.primary is not None:
        v = _key_visits(c.config)[-1]
        r = _first(es, outcome=c.primary["name"], visit=v, method="mmrm_over_baseline_sd")
        if r is not None:
            blocks.append(_p(f"At {visit_label(v)}, the standardized difference in {c.primary['name']} was "
                             f"g = {fmt_est_ci(r.get('estimate'), r.get('ci_lower'), r.get('ci_upper'))} "
                             f"(MMRM difference over the pooled baseline SD)."))
    blocks.append(_table("Standardized treatment differences (Hedges' g) at the key visits",
                         [("Visit", "text"), ("g, MMRM over baseline SD (95% CI)", "ci"),
                          ("g, observed change (95% CI)", "ci"), (f"n {c.reference} / {c.treatment}", "num")],
                         groups=groups, note="Negative g favours the treatment when lower scores are better. "
                                             "n: participants in the MMRM."))
    return blocks + c.figures_for("effect-sizes")


def _bayes(c: _Context) -> list[dict]:
    post = c.t("posterior")
    if not _has(post, "outcome", "visit", "prior", "prob_benefit"):
        return [_p("No posterior table was produced.")]
    blocks = []
    if c.primary is not None:
        for v in _key_visits(c.config):
            flat = _first(post, outcome=c.primary["name"], visit=v, prior="flat")
            sceptical = _first(post, outcome=c.primary["name"], visit=v, prior="sceptical")
            if flat is None:
                continue
            text = (f"At {visit_label(v)}, the probability that {c.treatment} is better than {c.reference} on "
                    f"{c.primary['name']} is {fmt_pct(flat.get('prob_benefit'))} under a flat prior, and the "
                    f"probability of a benefit larger than the MCID ({fmt_num(flat.get('mcid'), 0)} points) is "
                    f"{fmt_pct(flat.get('prob_benefit_beyond_mcid'))}")
            if sceptical is not None:
                text += (f"; under the sceptical prior these are {fmt_pct(sceptical.get('prob_benefit'))} and "
                         f"{fmt_pct(sceptical.get('prob_benefit_beyond_mcid'))}")
            blocks.append(_p(text + "."))
    groups = []
    for o in _efficacy(c.config):
        rows = []
        for v in _visits_key_first(c.config):
            for prior in ("flat", "sceptical"):
                r = _first(post, outcome=o["name"], visit=v, prior=prior)
                if r is None:
                    continue
                prior_text = ("flat" if prior == "flat" else
                              f"sceptical N(0, {fmt_num(r.get('prior_sd'), 2)}²)")
                rows.append([visit_label(v), prior_text,
                             f"{fmt_num(r.get('posterior_mean'))} ({fmt_num(r.get('posterior_sd'))})",
                             fmt_pct(r.get("prob_benefit")), fmt_num(r.get("mcid"), 0),
                             fmt_pct(r.get("prob_benefit_beyond_mcid"))])
        if rows:
            groups.append((o["name"], rows))
    blocks.append(_table("Posterior probabilities of benefit",
                         [("Visit", "text"), ("Prior", "text"), ("Posterior mean (SD)", "num"),
                          ("P(benefit)", "num"), ("MCID", "num"), ("P(benefit > MCID)", "num")], groups=groups,
                         note="Normal approximation to the likelihood of the MMRM estimate; the flat-prior "
                              "probabilities use the t reference distribution with the MMRM df."))
    return blocks + c.figures_for("bayes")


def _nnt_text(note: Any) -> str:
    """``"NNTB 4.9; CI: NNTB 2.1 to infinity to NNTH 7.8"`` -> ``"NNTB 4.9 (NNTB 2.1 to ∞ to NNTH 7.8)"``."""
    text = text_or_missing(note).replace("infinity", "∞")
    point, sep, interval = text.partition("; CI: ")
    return f"{point} ({interval})" if sep else text


def _responders(c: _Context) -> list[dict]:
    resp = c.t("responders")
    if not _has(resp, "outcome", "visit", "definition"):
        return [_p("No responder table was produced.")]
    improvement = as_float(_analysis(c.config).get("responder_improvement", 0.3)) or 0.3
    blocks = []
    if c.primary is not None:
        v = _key_visits(c.config)[-1]
        r = _first(resp, outcome=c.primary["name"], visit=v, definition="response")
        if r is not None:
            blocks.append(_p(
                f"At {visit_label(v)}, {fmt_int(r.get('n_treatment'))} of {fmt_int(r.get('N_treatment'))} "
                f"{c.treatment} participants ({fmt_pct(r.get('pct_treatment'), scale=1)}) and "
                f"{fmt_int(r.get('n_reference'))} of {fmt_int(r.get('N_reference'))} {c.reference} participants "
                f"({fmt_pct(r.get('pct_reference'), scale=1)}) responded on {c.primary['name']} (at least "
                f"{fmt_num(100 * improvement, 0)}% improvement): risk difference "
                f"{fmt_est_ci(100 * (as_float(r.get('risk_difference')) or np.nan), 100 * (as_float(r.get('rd_ci_lower')) or np.nan), 100 * (as_float(r.get('rd_ci_upper')) or np.nan), 1)} "
                f"percentage points."))
    groups = []
    outcomes = {o["name"]: o for o in _efficacy(c.config)}
    for name, o in outcomes.items():
        rows = []
        for v in _visits_key_first(c.config):
            for definition in ("response", "remission"):
                r = _first(resp, outcome=name, visit=v, definition=definition)
                if r is None:
                    continue
                label = (f"response (≥ {fmt_num(100 * (as_float(r.get('threshold')) or improvement), 0)}%)"
                         if definition == "response" else f"remission (< {fmt_num(r.get('threshold'), 0)})")
                rd = [100 * x if x is not None else None
                      for x in (as_float(r.get("risk_difference")), as_float(r.get("rd_ci_lower")),
                                as_float(r.get("rd_ci_upper")))]
                rows.append([visit_label(v), label,
                             f"{fmt_int(r.get('n_reference'))}/{fmt_int(r.get('N_reference'))} ({fmt_pct(r.get('pct_reference'), scale=1)})",
                             f"{fmt_int(r.get('n_treatment'))}/{fmt_int(r.get('N_treatment'))} ({fmt_pct(r.get('pct_treatment'), scale=1)})",
                             fmt_est_ci(rd[0], rd[1], rd[2], 1),
                             fmt_est_ci(r.get("odds_ratio"), r.get("or_ci_lower"), r.get("or_ci_upper")),
                             _nnt_text(r.get("nnt_note")), fmt_p(r.get("fisher_p"), prefix=False)])
        if rows:
            groups.append((name, rows))
    blocks.append(_table("Responders and remission by arm",
                         [("Visit", "text"), ("Definition", "text"), (c.reference, "num"), (c.treatment, "num"),
                          ("Risk difference, % points (95% CI)", "ci"), ("Odds ratio (95% CI)", "ci"),
                          ("NNT (95% CI)", "wtext"), ("Fisher p", "num")], groups=groups, cls="wide",
                         note="n/N (%) of the participants assessed at the visit. NNTB/NNTH: number needed to treat "
                              "for one more benefit/harm; an interval through ∞ includes no difference."))
    return blocks + c.figures_for("responders")


def _sensitivity(c: _Context) -> list[dict]:
    agreement = sensitivity_agreement(c.config, c.t("contrasts"), c.t("sensitivity"), c.t("multiple_imputation"))
    blocks = [_p(AGREEMENT_DEFINITION.format(level=c.level, alpha=fmt_num(c.alpha, 2)))]
    if agreement.empty:
        return blocks + [_p("No sensitivity analyses were run.")] + c.figures_for("sensitivity")
    judged = agreement["agrees"].dropna()
    differs = agreement[agreement["agrees"].fillna(True) == False]  # noqa: E712 (nullable boolean)
    text = (f"Of {len(agreement)} comparisons ({agreement['analysis'].nunique()} analyses, "
            f"{agreement['outcome'].nunique()} outcomes, {agreement['visit'].nunique()} key visits), "
            f"{int(judged.sum())} agree with the primary analysis and {int((~judged).sum())} do not")
    if len(judged) < len(agreement):
        text += f"; {len(agreement) - len(judged)} cannot be judged"
    text += "."
    blocks.append(_p(text))
    if len(differs):
        shown = [f"{r.outcome} at {visit_label(r.visit)}: {_analysis_label(r.analysis)}" for r in differs.itertuples()]
        blocks.append(_p("Conclusions that differ from the primary analysis: " + "; ".join(shown) + "."))
    groups = []
    structure = _structure_name(_analysis(c.config).get("covariance", "us"))
    for (outcome, visit), sub in agreement.groupby(["outcome", "visit"], sort=False):
        primary = _mmrm_row(c.tables, outcome, visit)
        rows = [[f"Primary: MMRM, {structure} covariance",
                 fmt_est_ci(primary.get("estimate"), primary.get("ci_lower"), primary.get("ci_upper")),
                 fmt_p(primary.get("p_value"), prefix=False), "reference", {"cls": "primary-row"}]]
        for r in sub.itertuples():
            agrees = r.agrees
            verdict = MISSING if pd.isna(agrees) else ("agrees" if agrees else "DIFFERS")
            estimate = fmt_est_ci(r.estimate, r.ci_lower, r.ci_upper)
            rows.append([_analysis_label(r.analysis), estimate, fmt_p(r.p_value, prefix=False), verdict,
                         {"cls": "flag" if verdict == "DIFFERS" else ""}])
        groups.append((f"{outcome} at {visit_label(visit)}", rows))
    blocks.append(_table("Sensitivity analyses beside the primary analysis, by outcome and key visit",
                         [("Analysis", "text"), (f"Estimate ({c.level} CI)", "ci"), ("p", "num"),
                          ("Agreement with primary", "text")], groups=groups,
                         note="Agreement as defined above. The randomization test reports the MMRM estimate "
                              "with its own p-value. Hodges-Lehmann: median of the pairwise differences in "
                              "observed change."))
    return blocks + c.figures_for("sensitivity")


def _missing(c: _Context) -> list[dict]:
    md = c.t("missing_data")
    mi = c.t("multiple_imputation")
    tp = c.t("tipping_point")
    blocks: list[dict] = []
    arms = [c.reference, c.treatment]
    if _has(md, "table", "outcome", "arm", "visit"):
        miss = md[md["table"].astype(str) == "missingness"]
        groups = []
        for o in _outcomes(c.config):
            rows = []
            for v in _post_baseline(c.config):
                cells = []
                for arm in arms:
                    r = _first(miss, outcome=o["name"], arm=arm, visit=v)
                    cells.append(MISSING if r is None else
                                 f"{fmt_int(r.get('n_missing'))}/{fmt_int(r.get('n_randomized'))} "
                                 f"({fmt_pct(r.get('pct_missing'), scale=1)})")
                if any(cell != MISSING for cell in cells):
                    rows.append([visit_label(v)] + cells)
            if rows:
                groups.append((o["name"], rows))
        blocks.append(_table("Missing scores by outcome, visit and arm",
                             [("Visit", "text"), (f"{c.reference}: missing/randomized (%)", "num"),
                              (f"{c.treatment}: missing/randomized (%)", "num")], groups=groups,
                             note="Visits at which an outcome was not scheduled are left out."))
        drop = md[md["table"].astype(str) == "dropout"]
        if len(drop):
            rows = []
            for o in _outcomes(c.config):
                for arm in arms:
                    sub = _select(drop, outcome=o["name"], arm=arm)
                    if sub.empty:
                        continue
                    mono = as_float(sub["n_monotone"].astype(float).sum()) if "n_monotone" in sub else None
                    inter = as_float(sub["n_intermittent"].astype(float).sum()) if "n_intermittent" in sub else None
                    last = {str(r.visit): r.n_last_observed for r in sub.itertuples()}
                    rows.append([f"{o['name']}, {arm}"] + [fmt_int(last.get(v)) for v in _visit_order(c.config)]
                                + [fmt_int(inter)])
            blocks.append(_table("Last visit with a score (dropout pattern)",
                                 [("Outcome, arm", "text")] + [(visit_label(v), "num") for v in _visit_order(c.config)]
                                 + [("Intermittent", "num")], rows,
                                 note="Participants by the last visit at which they had a score; intermittent: "
                                      "a missing visit followed by an observed one."))
    if _has(mi, "outcome", "visit", "analysis"):
        groups = []
        for o in _efficacy(c.config):
            rows = []
            for v in _key_visits(c.config):
                primary = _mmrm_row(c.tables, o["name"], v)
                if primary is not None:
                    rows.append(["MMRM (primary, MAR)", fmt_est_ci(primary.get("estimate"), primary.get("ci_lower"),
                                                                   primary.get("ci_upper")),
                                 fmt_p(primary.get("p_value"), prefix=False), MISSING, {"cls": "primary-row"}])
                for r in _select(mi, outcome=o["name"], visit=v).itertuples():
                    rows.append([_analysis_label(str(r.analysis)), fmt_est_ci(r.estimate, r.ci_lower, r.ci_upper),
                                 fmt_p(r.p_value, prefix=False), fmt_num(r.fraction_missing_info, 2)])
                if rows:
                    groups.append((f"{o['name']} at {visit_label(v)}", rows))
                    rows = []
        m = _first(mi)
        blocks.append(_h4("Multiple imputation"))
        blocks.append(_table("Multiple imputation under MAR and reference-based assumptions",
                             [("Analysis", "text"), (f"Estimate ({c.level} CI)", "ci"), ("p", "num"),
                              ("Fraction of missing information", "num")], groups=groups,
                             note=f"ANCOVA of each completed data set, pooled by Rubin's rules "
                                  f"({fmt_int(m.get('imputations')) if m is not None else MISSING} imputations)."))
    if _has(tp, "outcome", "delta", "conclusion"):
        blocks.append(_h4("Tipping point"))
        rows = []
        sentences = []
        for o in _efficacy(c.config):
            sub = _select(tp, outcome=o["name"])
            if sub.empty:
                continue
            sub = sub.sort_values("delta", kind="mergesort")
            start = sub.iloc[0]
            tip = as_float(start.get("tipping_delta"))
            visit = str(start.get("visit"))
            dmax = as_float(sub["delta"].max())
            if tip is None:
                at = sub.iloc[-1]
                verdict = f"remains unchanged up to δ = {fmt_num(dmax, 0)} points (the largest examined)"
            else:
                at = sub[sub["delta"].astype(float) >= tip].iloc[0]
                verdict = f"changes to '{text_or_missing(at.get('conclusion'))}' at δ = {fmt_num(tip, 0)} points"
            rows.append([o["name"], visit_label(visit), text_or_missing(start.get("conclusion")), verdict,
                         fmt_num(at.get("delta"), 0),
                         fmt_est_ci(at.get("estimate"), at.get("ci_lower"), at.get("ci_upper"))])
            sentences.append(f"{o['name']} at {visit_label(visit)}: the conclusion at δ = 0 "
                             f"('{text_or_missing(start.get('conclusion'))}') {verdict}")
        if sentences:
            blocks.append(_p(f"Shifting the imputed {c.treatment}-arm values in the unfavourable direction by δ "
                             f"points: " + "; ".join(sentences) + "."))
        blocks.append(_table("Delta-adjusted tipping-point analysis (MAR imputation, last key visit)",
                             [("Outcome", "text"), ("Visit", "text"), ("Conclusion at δ = 0", "text"),
                              ("Tipping point", "text"), ("δ shown", "num"), (f"Estimate at δ ({c.level} CI)", "ci")],
                             rows, note="Conclusion: 'significant benefit', 'not significant' or 'significant "
                                        "harm' by whether the interval excludes 0."))
    blocks += c.figures_for("missing-data")
    return blocks or [_p("No missing-data tables were produced.")]


def _harms(c: _Context) -> list[dict]:
    ae = c.t("adverse_events")
    dis = c.t("dissociation")
    blocks: list[dict] = []
    if not c.config.get("harms") and ae.empty and dis.empty:
        return [_p("No harms data were given (harms: in the config).")]
    if _has(ae, "term"):
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
        blocks.append(_p(
            f"{fmt_int(first.n_treatment)} of {fmt_int(first.N_treatment)} {c.treatment} participants "
            f"({fmt_pct(first.pct_treatment, scale=1)}) and {fmt_int(first.n_reference)} of "
            f"{fmt_int(first.N_reference)} {c.reference} participants ({fmt_pct(first.pct_reference, scale=1)}) "
            f"had {str(first.term)}."))
        blocks.append(_table("Adverse events: participants with each event by arm",
                             [("Event", "text"), (f"{c.reference}: n/N (%)", "num"), ("events", "num"),
                              (f"{c.treatment}: n/N (%)", "num"), ("events", "num"),
                              ("Risk difference, % points (95% CI)", "num"), ("Fisher p", "num")], rows,
                             note="Denominators: participants randomized to each arm; a participant not in the "
                                  "adverse-event file had no adverse event. Newcombe hybrid-score intervals."))
    if _has(dis, "arm", "statistic"):
        name = text_or_missing(dis.iloc[0].get("scale"))
        when = text_or_missing(dis.iloc[0].get("timepoint"))
        rows = []
        for arm in (c.reference, c.treatment):
            r = _first(dis, arm=arm, statistic="summary")
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
            blocks.append(_p(f"{name} dissociation at {when}: the mean score was "
                             f"{fmt_num(welch.get('estimate'), 1)} points higher with {c.treatment} "
                             f"({c.level} CI {fmt_ci(welch.get('ci_lower'), welch.get('ci_upper'), 1)})."
                             if (as_float(welch.get("estimate")) or 0) >= 0 else
                             f"{name} dissociation at {when}: the mean score was "
                             f"{fmt_num(abs(as_float(welch.get('estimate'))), 1)} points lower with {c.treatment} "
                             f"({c.level} CI {fmt_ci(welch.get('ci_lower'), welch.get('ci_upper'), 1)})."))
        blocks.append(_table(f"{name} at {when} by arm", [("Arm", "text"), ("n", "num"), ("Mean (SD)", "num"),
                                                          ("Median [Q1, Q3]", "num"), ("Range", "num")], rows))
        if drows:
            blocks.append(_table(f"{name}: {c.treatment} minus {c.reference}",
                                 [("Method", "text"), (f"Difference ({c.level} CI)", "num"), ("p", "num")], drows))
    blocks += c.figures_for("harms")
    return blocks


def _mechanism_section(c: _Context) -> list[dict]:
    mech = c.t("mechanism")
    outcomes = _mechanism(c.config)
    if not outcomes:
        return [_p("No mechanism outcomes were declared (outcomes[].role: mechanism).")]
    blocks: list[dict] = []
    rows = []
    for o in outcomes:
        contrasts = _select(c.t("contrasts"), outcome=o["name"], model="mmrm")
        for r in contrasts.itertuples():
            rows.append([f"{o['name']} at {visit_label(r.visit)}",
                         fmt_est_ci(r.estimate, r.ci_lower, r.ci_upper, c.decimals(o["name"])[1]), fmt_num(r.df, 1),
                         fmt_p(r.p_value, prefix=False)])
    if rows:
        blocks.append(_table(f"Mechanism outcomes: {c.treatment} minus {c.reference} difference in adjusted "
                             f"mean change (MMRM)", [("Outcome", "text"), (f"Difference ({c.level} CI)", "num"),
                                                     ("df", "num"), ("p", "num")], rows,
                             note="Each mechanism outcome on its own scale; not adjusted for multiplicity."))
    if _has(mech, "mechanism_outcome", "arm", "pearson_r"):
        groups = []
        for o in outcomes:
            sub = _select(mech, mechanism_outcome=o["name"])
            rows = [[f"{r.arm} at {visit_label(r.visit)}", fmt_int(r.n),
                     fmt_est_ci(r.pearson_r, r.pearson_ci_lower, r.pearson_ci_upper),
                     fmt_p(r.pearson_p, prefix=False),
                     fmt_est_ci(r.spearman_rho, r.spearman_ci_lower, r.spearman_ci_upper),
                     fmt_p(r.spearman_p, prefix=False)] for r in sub.itertuples()]
            if rows:
                primary = str(sub.iloc[0].primary_outcome)
                groups.append((f"Change in {o['name']} with change in {primary}", rows))
        blocks.append(_table("Correlation of the change in each mechanism outcome with the change in the primary "
                             "outcome", [("Arm and visit", "text"), ("n", "num"), ("Pearson r (95% CI)", "num"),
                                         ("p", "num"), ("Spearman ρ (95% CI)", "num"), ("p", "num")],
                             groups=groups,
                             note="Descriptive: with 10 to 15 participants per arm the intervals are wide, and a "
                                  "correlation says nothing causal about mediation. The correlation over both arms "
                                  "also carries the difference between the arms."))
    return blocks + c.figures_for("mechanism")


_EFFECT_SOURCES = {"mcid": "the MCID", "pilot": "the pilot estimate",
                   "pilot_conservative": "the conservative bound of the pilot's confidence interval"}


def _planning(c: _Context) -> list[dict]:
    """Planning the definitive trial: the smallest n per arm for each target power and effect,
    by simulation with the pilot's MMRM beside the analytic approximations (sample_size.csv)."""
    sizes = c.t("sample_size")
    if not _has(sizes, "effect_source", "effect", "target_power", "method", "n_per_arm"):
        return []
    settings = c.config.get("power") or {}
    primary = _primary(c.config) or {}
    outcome = settings.get("outcome") or primary.get("name", "the primary outcome")
    visit = settings.get("visit") or (_key_visits(c.config) or [""])[-1]
    blocks = [_p(
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
        blocks.append(_ul(sentences))
    blocks.append(_table("Smallest sample size per arm reaching each target power",
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
    out: list[str] = []
    analysis = _analysis(config)
    wanted = str(analysis.get("covariance", "us"))
    models = _t(tables, "models")
    if _has(models, "outcome", "model", "covariance"):
        for r in models[models["model"].astype(str) == "mmrm"].itertuples():
            if str(r.covariance) != wanted:
                out.append(f"{r.outcome}: the {_structure_name(wanted)} MMRM did not converge; the "
                           f"{_structure_name(r.covariance)} structure was used instead.")
    contrasts = _t(tables, "contrasts")
    if _has(contrasts, "estimate"):
        for r in contrasts.itertuples():
            if as_float(r.estimate) is None or as_float(r.ci_lower) is None:
                out.append(f"{r.outcome}, {r.model} at {visit_label(r.visit)}: the contrast could not be estimated.")
    sens = _t(tables, "sensitivity")
    if _has(sens, "estimate", "analysis"):
        for r in sens.itertuples():
            if as_float(r.estimate) is None:
                out.append(f"{r.outcome} at {visit_label(r.visit)}: {_analysis_label(str(r.analysis))} could not be "
                           f"estimated ({text_or_missing(getattr(r, 'note', None))}).")
    md = _t(tables, "missing_data")
    reference, treatment = _arms(config)
    if _has(md, "table", "pct_missing"):
        miss = md[md["table"].astype(str) == "missingness"]
        for v in _key_visits(config):
            same: dict[str, list[str]] = {}
            for o in _efficacy(config):
                parts = []
                heavy = False
                for arm in (reference, treatment):
                    r = _first(miss, outcome=o["name"], arm=arm, visit=v)
                    if r is None:
                        continue
                    pct = as_float(r.get("pct_missing"))
                    heavy = heavy or (pct is not None and pct > 10)
                    parts.append(f"{fmt_int(r.get('n_missing'))}/{fmt_int(r.get('n_randomized'))} "
                                 f"({fmt_pct(pct, scale=1)}) {arm}")
                if heavy:
                    same.setdefault(", ".join(parts), []).append(o["name"])
            for parts, names in same.items():
                out.append(f"{_join(names)} at {visit_label(v)}: more than 10% of an arm missing ({parts}).")
    mi = _t(tables, "multiple_imputation")
    if _has(mi, "fraction_missing_info"):
        high = mi[mi["fraction_missing_info"].astype(float) > 0.3]
        for r in high.itertuples():
            out.append(f"{r.outcome} at {visit_label(r.visit)}, {_analysis_label(str(r.analysis))}: fraction of "
                       f"missing information {fmt_num(r.fraction_missing_info, 2)}.")
    resp = _t(tables, "responders")
    if _has(resp, "or_note"):
        for r in resp.itertuples():
            if "zero cell" in str(r.or_note):
                out.append(f"{r.outcome} at {visit_label(r.visit)}, {r.definition}: a zero cell; the odds ratio uses "
                           f"the Haldane-Anscombe correction (0.5 added to each cell).")
    if _has(sens, "note") and sens["note"].astype(str).str.contains("coverage approximate").any():
        out.append("Hodges-Lehmann intervals: tied values, so their coverage is approximate.")
    feas = _t(tables, "feasibility")
    if _has(feas, "note"):
        for note in dict.fromkeys(feas["note"].astype(str)):
            if note.startswith("assumed"):
                out.append("Feasibility: " + note + ".")
    return out


def limitations(config: dict, tables: dict) -> list[str]:
    """The limitations paragraph items, generated from the config and the tables."""
    c = _Context(config, tables, [], {}, None)
    items = []
    primary = c.primary
    key = _key_visits(config)
    text = (f"Small sample: {fmt_int(c.n_total)} participants were randomized ({c.arm_n_text()}), so every "
            f"estimate is imprecise.")
    if primary is not None and key:
        row = _mmrm_row(tables, primary["name"], key[-1])
        if row is not None and as_float(row.get("ci_upper")) is not None and as_float(row.get("ci_lower")) is not None:
            width = as_float(row.get("ci_upper")) - as_float(row.get("ci_lower"))
            text += (f" The {c.level} CI of the primary difference at {visit_label(key[-1])} spans "
                     f"{fmt_num(width)} points ({fmt_ci(row.get('ci_lower'), row.get('ci_upper'))})")
            mcid = as_float(primary.get("mcid"))
            if mcid:
                text += f", {fmt_num(width / mcid, 1)} times the MCID of {fmt_num(mcid, 0)} points"
            text += "."
    items.append(text)
    items.append("A pilot trial is not powered to test efficacy: the effect estimates are for planning a definitive "
                 "trial, p-values are descriptive, and the effects of small trials that are followed up tend to be "
                 "overestimated.")
    n_eff = len(_efficacy(config))
    sens = _t(tables, "sensitivity")
    n_sens = sens["analysis"].nunique() if _has(sens, "analysis") else 0
    items.append(f"Multiplicity: {n_eff} efficacy outcomes at {len(key)} key visits and {n_sens} sensitivity "
                 f"analyses were examined; only the secondary outcomes were adjusted (Holm), so an isolated small "
                 f"p-value should be read with caution.")
    md = _t(tables, "missing_data")
    if primary is not None and key and _has(md, "table"):
        miss = _select(md[md["table"].astype(str) == "missingness"], outcome=primary["name"], visit=key[-1])
        if len(miss):
            n_missing = int(miss["n_missing"].astype(float).sum())
            n_rand = int(miss["n_randomized"].astype(float).sum())
            tp = _select(_t(tables, "tipping_point"), outcome=primary["name"])
            tipping = ""
            if len(tp):
                tip = as_float(tp.iloc[0].get("tipping_delta"))
                tipping = (f"; in the tipping-point analysis the conclusion was unchanged up to δ = "
                           f"{fmt_num(tp['delta'].astype(float).max(), 0)} points" if tip is None else
                           f"; the tipping-point analysis changes the conclusion at δ = {fmt_num(tip, 0)} points")
            items.append(f"Missing data: {n_missing} of {n_rand} participants ({fmt_pct(n_missing / n_rand if n_rand else None)}) "
                         f"had no {primary['name']} score at {visit_label(key[-1])}. The primary analysis assumes data "
                         f"missing at random; the reference-based imputations probe this assumption{tipping}.")
    ae = _t(tables, "adverse_events")
    if _has(ae, "term", "rd_ci_lower", "rd_ci_upper"):
        more = [r for r in ae.itertuples() if (as_float(r.rd_ci_lower) or 0) > 0 and str(r.term) != "any adverse event"]
        if more:
            shown = ", ".join(f"{r.term} ({fmt_pct(r.pct_treatment, scale=1)} vs {fmt_pct(r.pct_reference, scale=1)})"
                              for r in more)
            items.append(f"Blinding: adverse events more frequent with {c.treatment} — {shown} — may have revealed the "
                         f"allocation to participants and raters (functional unblinding) despite the active control.")
    prog = _t(tables, "progression")
    if _has(prog, "name", "met"):
        not_met = [str(r.name) for r in prog.itertuples() if str(r.met) != "met"]
        uncertain = [str(r.name) for r in prog.itertuples()
                     if str(r.met) == "met" and _truthy(getattr(r, "met_with_confidence", None)) is False]
        if not_met:
            items.append("Feasibility: progression criteria not met — " + "; ".join(not_met) + ".")
        if uncertain:
            items.append("Feasibility: met by the point estimate only (the interval reaches below the threshold) — "
                         + "; ".join(uncertain) + ".")
    if _mechanism(config):
        items.append("Mechanism: the correlations are exploratory and descriptive; they cannot show mediation.")
    feas = _t(tables, "feasibility")
    if _has(feas, "note") and feas["note"].astype(str).str.startswith("assumed").any():
        items.append("Adherence: receipt of the intervention was not recorded in the data and is assumed.")
    return items


def _warnings_section(c: _Context) -> list[dict]:
    items = c.extra_warnings + data_warnings(c.config, c.tables)
    if not items:
        return [_p("No data warnings.")]
    return [_p("Points in the data and the fits that a reader should know about:"), _ul(items, cls="warnings")]


def _limitations(c: _Context) -> list[dict]:
    return [_ul(limitations(c.config, c.tables))]


# ---- appendix --------------------------------------------------------------------------------
def _diagnostics(c: _Context) -> list[dict]:
    figs = c.figures_for("diagnostics")
    return figs or [_p("No model diagnostics figure was supplied.")]


def _covariance(c: _Context) -> list[dict]:
    models = c.t("models")
    if not _has(models, "outcome", "model", "covariance"):
        return [_p("No model table was produced.")]
    wanted = str(_analysis(c.config).get("covariance", "us"))
    chain = [str(s) for s in _analysis(c.config).get("fallback", []) or []]
    rows = []
    for r in models.itertuples():
        attempts = as_float(getattr(r, "fallback_attempts", None))
        rows.append([f"{r.outcome}", {"mmrm": "MMRM", "lmm": "LMM (random intercept)"}.get(str(r.model), str(r.model)),
                     _structure_name(r.covariance), str(getattr(r, "df_method", MISSING)).replace("-", " "),
                     fmt_num(getattr(r, "neg2_reml_loglik", None), 2), fmt_num(getattr(r, "aic", None), 2),
                     fmt_int(getattr(r, "n_participants", None)), fmt_int(getattr(r, "n_observations", None)),
                     fmt_int(attempts)])
    fell_back = [r for r in models.itertuples() if str(r.model) == "mmrm" and str(r.covariance) != wanted]
    note = (f"Requested MMRM structure: {_structure_name(wanted)}; fallback chain: "
            f"{', '.join(_structure_name(s) for s in chain) if chain else 'not used'}. ")
    note += ("Every MMRM converged with the requested structure." if not fell_back else
             "Structures used after non-convergence: " + ", ".join(f"{r.outcome} ({_structure_name(r.covariance)})"
                                                                   for r in fell_back) + ".")
    return [_p(note), _table("Models fitted: covariance structure used and fit statistics",
                             [("Outcome", "text"), ("Model", "text"), ("Covariance", "text"), ("df method", "text"),
                              ("−2 log L (REML)", "num"), ("AIC", "num"), ("Participants", "num"),
                              ("Observations", "num"), ("Fallback attempts", "num")], rows, cls="wide")]


def _all_contrasts(c: _Context) -> list[dict]:
    contrasts = c.t("contrasts")
    if not _has(contrasts, "outcome", "model", "visit"):
        return [_p("No contrasts table was produced.")]
    groups = []
    labels = {"mmrm": "MMRM", "lmm": "LMM (random intercept)"}
    for o in _outcomes(c.config):
        rows = []
        decimals = c.decimals(o["name"])[1]
        for model in ("mmrm", "lmm"):
            for v in _post_baseline(c.config):
                r = _first(contrasts, outcome=o["name"], model=model, visit=v)
                if r is None:
                    continue
                rows.append([f"{labels[model]}, {visit_label(v)}", fmt_num(r.get("estimate"), decimals),
                             fmt_num(r.get("std_error"), decimals),
                             fmt_ci(r.get("ci_lower"), r.get("ci_upper"), decimals), fmt_num(r.get("df"), 1),
                             fmt_p(r.get("p_value"), prefix=False)])
        if rows:
            groups.append((o["name"], rows))
    return [_table(f"All treatment contrasts ({c.treatment} minus {c.reference}): difference in adjusted mean change",
                   [("Model, visit", "text"), ("Estimate", "num"), ("SE", "num"), (f"{c.level} CI", "num"),
                    ("df", "num"), ("p", "num")], groups=groups)]


def _all_descriptives(c: _Context) -> list[dict]:
    desc = c.t("descriptives")
    if not _has(desc, "outcome", "arm", "visit"):
        return [_p("No descriptives table was produced.")]
    groups = []
    for o in _outcomes(c.config):
        decimals = c.decimals(o["name"])[0]
        rows = []
        for v in _visit_order(c.config):
            for arm in (c.reference, c.treatment):
                r = _first(desc, outcome=o["name"], arm=arm, visit=v)
                if r is None or (as_float(r.get("n")) or 0) == 0:
                    continue
                change = (MISSING if as_float(r.get("change_mean")) is None else
                          f"{fmt_num(r.get('change_mean'), decimals)} ({fmt_num(r.get('change_sd'), decimals)})")
                rows.append([f"{visit_label(v)}, {arm}", fmt_int(r.get("n")), fmt_int(r.get("n_missing")),
                             f"{fmt_num(r.get('mean'), decimals)} ({fmt_num(r.get('sd'), decimals)})",
                             f"{fmt_num(r.get('median'), decimals)} [{fmt_num(r.get('q1'), decimals)}, "
                             f"{fmt_num(r.get('q3'), decimals)}]", change])
        if rows:
            groups.append((o["name"], rows))
    return [_table("Descriptive statistics of the scores by visit and arm",
                   [("Visit, arm", "text"), ("n", "num"), ("Missing", "num"), ("Mean (SD)", "num"),
                    ("Median [Q1, Q3]", "num"), ("Change from baseline, mean (SD)", "num")], groups=groups,
                   note="Visits at which an outcome was not scheduled are left out.")]


def _software(c: _Context) -> list[dict]:
    packages = c.provenance.get("packages") or {}
    rows = [[str(k), text_or_missing(packages[k])] for k in sorted(packages, key=lambda s: str(s).lower())]
    python = c.provenance.get("python")
    if python:
        rows.insert(0, ["Python", text_or_missing(python)])
    return [_table("Software versions", [("Package", "text"), ("Version", "text")], rows)]


def _checksums(c: _Context) -> list[dict]:
    inputs = c.provenance.get("inputs")
    if not inputs:
        inputs = [{"role": "trial data", "path": c.provenance.get("data_path"),
                   "sha256": c.provenance.get("data_sha256")}]
    rows = [[text_or_missing(i.get("role")), text_or_missing(i.get("path")), text_or_missing(i.get("sha256"))]
            for i in inputs]
    return [_p("SHA-256 checksums of the input files as read by this run (sha256sum of each file reproduces them)."),
            _table("Input data checksums", [("Input", "text"), ("Path", "text"), ("SHA-256", "text")], rows,
                   cls="checksums")]


def _config_section(c: _Context) -> list[dict]:
    return [_p("The validated configuration, with every default filled in, exactly as the analysis used it."),
            {"kind": "pre", "text": text_or_missing(c.provenance.get("config_yaml"))}]


def _reproduce(c: _Context) -> list[dict]:
    prov = c.provenance
    items = [
        ("Command", text_or_missing(prov.get("command"))),
        ("Or, for the demo trial", text_or_missing(prov.get("make_command", "make"))),
        ("Git commit", text_or_missing(prov.get("git_commit"))),
        ("Verify", text_or_missing(prov.get("verify_command", "make verify"))),
    ]
    return [
        _p("Run from the project directory with the pinned environment (requirements.lock or environment.yml). "
           "Every output under the trial's results folder is listed with its SHA-256 in MANIFEST.sha256; the verify "
           "command reruns the pipeline from scratch in a temporary directory and compares each output with the "
           "manifest, file by file. Two runs of the same commit on the same data give byte-identical tables, "
           "figures, report and PDF."),
        {"kind": "dl", "items": [{"term": t, "desc": d} for t, d in items]},
    ]


_BUILDERS = {
    "summary": _summary,
    "objectives": _objectives,
    "design": _design,
    "estimands": _estimands,
    "methods": _methods,
    "flow": _flow,
    "baseline": _baseline_section,
    "feasibility": _feasibility,
    "outcomes": _outcomes_section,
    "effect-sizes": _effect_sizes,
    "bayes": _bayes,
    "responders": _responders,
    "sensitivity": _sensitivity,
    "missing-data": _missing,
    "harms": _harms,
    "mechanism": _mechanism_section,
    "planning": _planning,
    "other-figures": lambda c: c.figures_for("other-figures"),
    "warnings": _warnings_section,
    "limitations": _limitations,
    "diagnostics": _diagnostics,
    "covariance": _covariance,
    "all-contrasts": _all_contrasts,
    "descriptives": _all_descriptives,
    "software": _software,
    "checksums": _checksums,
    "config": _config_section,
    "reproduce": _reproduce,
}


def build_document(config: dict, tables: dict[str, pd.DataFrame], figures: dict | None, provenance: dict,
                   warnings: list[str] | None = None) -> dict:
    """The report as a document model: sections in CONSORT order, tables and figures numbered.

    Parameters
    ----------
    config : dict
        The validated trial config.
    tables : dict
        ``{name: DataFrame}`` for the names in :data:`TABLE_NAMES` (absent ones are reported as
        not produced).
    figures : dict
        ``{key: {"path": png, "caption": str, "section": str[, "alt": str]}}``; ``section`` is one
        of :data:`FIGURE_SECTIONS` (or an alias); others go to "Other figures".
    provenance : dict
        See :func:`pilottrial.provenance.record.provenance`.
    warnings : list of str, optional
        Extra data warnings, listed before the generated ones.

    Returns
    -------
    dict
        ``{"sections": [...], "parts": [...], "contents": [...]}``.
    """
    context = _Context(config, tables, figure_items(figures), provenance, warnings)
    sections = []
    for sid, title, part in SECTION_ORDER:
        if sid == "contents":
            continue
        blocks = _BUILDERS[sid](context)
        if sid in ("other-figures", "planning") and not blocks:
            continue
        sections.append({"id": sid, "title": title, "part": part, "blocks": blocks})
    number = 0
    for section in sections:
        section["number"] = ""
        if section["part"] in ("methods", "results", "discussion"):
            number += 1
            section["number"] = str(number)
    n_table = n_figure = 0
    for section in sections:
        for block in section["blocks"]:
            if block["kind"] == "table":
                n_table += 1
                block["number"] = n_table
                block["id"] = f"table-{n_table}"
            elif block["kind"] == "figure":
                n_figure += 1
                block["number"] = n_figure
                block["id"] = f"figure-{n_figure}"
                block["alt"] = f"Figure {n_figure}: {block['alt']}"
    parts = []
    for section in sections:
        if not parts or parts[-1]["id"] != section["part"]:
            parts.append({"id": section["part"], "title": PARTS.get(section["part"], ""), "sections": []})
        parts[-1]["sections"].append(section)
    contents = [{"id": s["id"], "title": s["title"], "part": s["part"]} for s in sections if s["part"] != "front"]
    return {"sections": sections, "parts": parts, "contents": contents}
