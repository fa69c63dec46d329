"""Self-contained, deterministic HTML statistical report for a pilot trial.

:func:`render_report` turns the config, the contrast and descriptive tables,
the figure PNGs and a provenance record into one HTML document with inline
CSS and figures embedded as ``data:`` URIs (no network requests).
:func:`write_report` writes it to disk.

All number formatting goes through :func:`fmt_num` and :func:`fmt_p`.
Missing or non-finite numbers render as an em dash ("—"); negative numbers
use a real minus sign ("−").
"""

from __future__ import annotations

import base64
import math
from os import PathLike
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

__all__ = [
    "render_report",
    "render_crossover_report",
    "write_report",
    "fmt_num",
    "fmt_p",
    "fmt_ci",
    "key_result_sentence",
    "MISSING",
    "MINUS",
]

MISSING = "—"
MINUS = "−"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_TEMPLATE_NAME = "report.html"

_MODEL_LABELS = {
    "mmrm": "MMRM",
    "lmm": "LMM (random intercept)",
}
_MODEL_ORDER = ["mmrm", "lmm"]


# --------------------------------------------------------------------------
# number formatting (the one place)
# --------------------------------------------------------------------------
def _as_float(x: Any) -> float | None:
    """Return ``x`` as a finite float, or ``None`` if missing/non-finite."""
    if x is None or x is pd.NA or x is pd.NaT:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return v


def fmt_num(x: Any, decimals: int = 2, *, signed: bool = False) -> str:
    """Format a number with fixed decimals and a real minus sign.

    Parameters
    ----------
    x : number or None
        Value to format. ``None``, NaN, ±inf and non-numeric values give "—".
    decimals : int, default 2
        Number of decimals.
    signed : bool, default False
        Prefix positive values with "+".

    Returns
    -------
    str
        E.g. ``fmt_num(-8.104) == "−8.10"``; ``-0.00`` is shown as ``0.00``.
    """
    v = _as_float(x)
    if v is None:
        return MISSING
    text = f"{v:.{decimals}f}"
    if text.startswith("-"):
        body = text[1:]
        if float(body) == 0.0:
            return body
        return MINUS + body
    if signed and float(text) != 0.0:
        return "+" + text
    return text


def fmt_int(x: Any) -> str:
    """Format a count as an integer ("—" when missing)."""
    v = _as_float(x)
    if v is None:
        return MISSING
    return fmt_num(round(v), 0)


def fmt_p(p: Any, *, prefix: bool = True) -> str:
    """Format a p-value as "p < 0.001" or with 3 decimals.

    Parameters
    ----------
    p : number or None
        The p-value; missing/non-finite gives "—" (``"p = —"`` with prefix).
    prefix : bool, default True
        Include the leading ``"p "``/``"p = "`` (text) or not (tables).

    Returns
    -------
    str
    """
    v = _as_float(p)
    if v is None:
        return "p = " + MISSING if prefix else MISSING
    if v < 0.001:
        return "p < 0.001" if prefix else "< 0.001"
    text = fmt_num(min(v, 1.0), 3)
    return f"p = {text}" if prefix else text


def fmt_ci(lower: Any, upper: Any, decimals: int = 2) -> str:
    """Format a confidence interval as ``"−13.00 to −3.20"``."""
    return f"{fmt_num(lower, decimals)} to {fmt_num(upper, decimals)}"


def _df_label(config: dict) -> str:
    method = str((config.get("analysis", {}) or {}).get("df_method", "satterthwaite"))
    key = method.lower().replace("_", "-").replace(" ", "-")
    if key in ("kenward-roger", "kenwardroger", "kr"):
        return "Kenward-Roger"
    return "Satterthwaite"


def _ci_level(config: dict) -> str:
    alpha = _as_float((config.get("analysis", {}) or {}).get("alpha", 0.05))
    if alpha is None or not 0.0 < alpha < 1.0:
        alpha = 0.05
    return f"{100.0 * (1.0 - alpha):g}%"


# --------------------------------------------------------------------------
# config helpers
# --------------------------------------------------------------------------
def _outcomes(config: dict) -> list[dict]:
    """Outcome configs, primary outcome(s) first, otherwise in config order."""
    ocs = [dict(o) for o in (config.get("outcomes", []) or [])]
    return sorted(ocs, key=lambda o: 0 if o.get("primary") else 1)  # stable


def _visit_order(config: dict) -> list[str]:
    return [str(v) for v in (config.get("visits", {}) or {}).get("order", []) or []]


def _baseline(config: dict) -> str | None:
    visits = config.get("visits", {}) or {}
    if visits.get("baseline") is not None:
        return str(visits["baseline"])
    order = _visit_order(config)
    return order[0] if order else None


def _key_visits(config: dict) -> list[str]:
    visits = config.get("visits", {}) or {}
    key = [str(v) for v in visits.get("key", []) or []]
    if key:
        return key
    base = _baseline(config)
    return [v for v in _visit_order(config) if v != base]


def _arms(config: dict) -> tuple[str, str]:
    arms = config.get("arms", {}) or {}
    return str(arms.get("reference", "reference")), str(arms.get("treatment", "treatment"))


def _rank(values: list[str]) -> dict[str, int]:
    return {v: i for i, v in enumerate(values)}


def _sort_frame(df: pd.DataFrame, config: dict, extra: list[tuple[str, list[str]]]) -> pd.DataFrame:
    """Sort rows by config order of outcome, then the given (column, order) keys.

    Unknown values go after the known ones, in sorted order.
    """
    keys: list[tuple[str, list[str]]] = [("outcome", [o["name"] for o in _outcomes(config)])]
    keys += extra
    df = df.copy()
    sort_cols = []
    for i, (col, order) in enumerate(keys):
        if col not in df.columns:
            continue
        rank = _rank([str(v) for v in order])
        values = df[col].astype(str)
        df[f"_k{i}a"] = values.map(lambda v, r=rank: r.get(v, len(r))).astype(int)
        df[f"_k{i}b"] = values
        sort_cols += [f"_k{i}a", f"_k{i}b"]
    if sort_cols:
        df = df.sort_values(sort_cols, kind="mergesort")
        df = df.drop(columns=sort_cols)
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------
# content builders
# --------------------------------------------------------------------------
def _randomized_per_arm(config: dict, descriptives: pd.DataFrame) -> dict[str, int | None]:
    """Participants per arm from the baseline rows of the descriptives.

    Per outcome the count is ``n + n_missing`` at baseline (``n`` alone when
    ``n_missing`` is absent); the arm's count is the maximum over outcomes.
    """
    reference, treatment = _arms(config)
    base = _baseline(config)
    arms = [reference, treatment]
    if "arm" in descriptives.columns:
        arms += sorted({str(a) for a in descriptives["arm"].dropna()} - set(arms))
    counts: dict[str, int | None] = {}
    if base is None or not {"arm", "visit", "n"} <= set(descriptives.columns):
        return {a: None for a in arms}
    rows = descriptives.loc[descriptives["visit"].astype(str) == base]
    for arm in arms:
        sub = rows.loc[rows["arm"].astype(str) == arm]
        best: int | None = None
        for _, r in sub.iterrows():
            n = _as_float(r.get("n"))
            if n is None:
                continue
            miss = _as_float(r.get("n_missing")) or 0.0
            total = int(round(n + miss))
            best = total if best is None else max(best, total)
        counts[arm] = best
    return counts


def key_result_sentence(
    config: dict, outcome: dict, visit: str, row: pd.Series | dict | None
) -> str:
    """One generated sentence for an outcome at a key visit (MMRM contrast).

    Parameters
    ----------
    config : dict
        Trial configuration.
    outcome : dict
        The outcome's config entry (``name``, ``better``, ...).
    visit : str
        Visit label.
    row : pandas.Series, dict or None
        The ``mmrm`` contrast row (``estimate, ci_lower, ci_upper, df,
        p_value``); ``None`` when no contrast is available.

    Returns
    -------
    str
        E.g. "At 24h, CAPS-5 improved by 8.10 more points with ketamine than
        with midazolam (difference in mean change −8.10 points; 95% CI −13.00
        to −3.20; Satterthwaite df 23.4; p = 0.002)."
    """
    reference, treatment = _arms(config)
    name = str(outcome.get("name"))
    if row is None:
        return f"At {visit}, no {name} contrast is available."
    est = _as_float(row.get("estimate"))
    if est is None:
        return f"At {visit}, the {name} difference between {treatment} and {reference} could not be estimated."
    better = outcome.get("better")
    magnitude = fmt_num(abs(est), 2)
    if better in ("lower", "higher") and fmt_num(est, 2) not in ("0.00",):
        favours = (est < 0) if better == "lower" else (est > 0)
        verb = "improved" if favours else "worsened"
        lead = f"At {visit}, {name} {verb} by {magnitude} more points with {treatment} than with {reference}"
    else:
        lead = (
            f"At {visit}, {name} changed by {fmt_num(est, 2, signed=True)} points more "
            f"with {treatment} than with {reference}"
        )
    details = (
        f"difference in mean change {fmt_num(est, 2)} points; "
        f"{_ci_level(config)} CI {fmt_ci(row.get('ci_lower'), row.get('ci_upper'))}; "
        f"{_df_label(config)} df {fmt_num(row.get('df'), 1)}; "
        f"{fmt_p(row.get('p_value'))}"
    )
    return f"{lead} ({details})."


def _key_results(config: dict, contrasts: pd.DataFrame) -> list[dict]:
    mmrm = contrasts.loc[contrasts["model"].astype(str).str.lower() == "mmrm"]
    out = []
    for oc in _outcomes(config):
        sentences = []
        for visit in _key_visits(config):
            sel = mmrm.loc[
                (mmrm["outcome"].astype(str) == str(oc.get("name")))
                & (mmrm["visit"].astype(str) == visit)
            ]
            row = sel.iloc[0] if len(sel) else None
            sentences.append(key_result_sentence(config, oc, visit, row))
        out.append({"name": str(oc.get("name")), "primary": bool(oc.get("primary")), "sentences": sentences})
    return out


def _contrast_rows(config: dict, contrasts: pd.DataFrame) -> list[dict]:
    df = _sort_frame(
        contrasts, config, [("model", _MODEL_ORDER), ("visit", _visit_order(config))]
    )
    rows = []
    for _, r in df.iterrows():
        model = str(r.get("model"))
        rows.append(
            {
                "outcome": str(r.get("outcome")),
                "model": _MODEL_LABELS.get(model.lower(), model),
                "visit": str(r.get("visit")),
                "estimate": fmt_num(r.get("estimate"), 2),
                "se": fmt_num(r.get("std_error"), 2),
                "ci": fmt_ci(r.get("ci_lower"), r.get("ci_upper")),
                "df": fmt_num(r.get("df"), 1),
                "p": fmt_p(r.get("p_value"), prefix=False),
            }
        )
    return rows


def _descriptive_rows(config: dict, descriptives: pd.DataFrame) -> list[dict]:
    reference, treatment = _arms(config)
    df = _sort_frame(
        descriptives, config, [("visit", _visit_order(config)), ("arm", [reference, treatment])]
    )
    rows = []
    for _, r in df.iterrows():
        rows.append(
            {
                "outcome": str(r.get("outcome")),
                "visit": str(r.get("visit")),
                "arm": str(r.get("arm")),
                "n": fmt_int(r.get("n")),
                "n_missing": fmt_int(r.get("n_missing")),
                "mean_sd": f"{fmt_num(r.get('mean'), 1)} ({fmt_num(r.get('sd'), 1)})",
                "median_iqr": (
                    f"{fmt_num(r.get('median'), 1)} "
                    f"[{fmt_num(r.get('q1'), 1)}, {fmt_num(r.get('q3'), 1)}]"
                ),
                "change": (
                    MISSING
                    if _as_float(r.get("change_mean")) is None
                    else f"{fmt_num(r.get('change_mean'), 1)} ({fmt_num(r.get('change_sd'), 1)})"
                ),
            }
        )
    return rows


STRUCTURE_NAMES = {
    "us": "unstructured", "cs": "compound-symmetry", "csh": "heterogeneous compound-symmetry",
    "ar1": "first-order autoregressive", "ar1h": "heterogeneous first-order autoregressive",
    "toep": "Toeplitz", "toeph": "heterogeneous Toeplitz", "ad": "first-order ante-dependence",
    "adh": "heterogeneous first-order ante-dependence",
}


def _structure_text(config: dict, models: pd.DataFrame | None) -> tuple[str, str]:
    """The covariance structure asked for, and a sentence on the fallback chain and its use."""
    analysis = config.get("analysis", {}) or {}
    wanted = str(analysis.get("covariance", "us"))
    name = STRUCTURE_NAMES.get(wanted, wanted)
    main = f"{'an' if name[0] in 'aeiou' else 'a'} {name} covariance matrix"
    chain = [str(c) for c in analysis.get("fallback", []) or []]
    note = ""
    if chain:
        note = ("Had it failed to converge, the first converging of the "
                + ", ".join(STRUCTURE_NAMES.get(c, c) for c in chain) + " structures would have been used")
    if models is not None and not models.empty:
        mmrm = models[models["model"] == "mmrm"]
        used = [f"{row.outcome} ({STRUCTURE_NAMES.get(row.covariance, row.covariance)})"
                for row in mmrm.itertuples() if row.covariance != wanted]
        if used and chain:
            note = (f"The {name} fit did not converge for " + ", ".join(used)
                    + ", where the structure in brackets, the first converging in the fallback chain, was used")
        elif chain:
            note += f"; the {name} fit converged for every outcome"
    return main, (note + ". ") if note else ""


def _model_text(config: dict, visits_txt: str) -> str:
    """The model in words, from the config (response scale, covariates, visits)."""
    analysis = config.get("analysis", {}) or {}
    covariates = list(dict.fromkeys(list(analysis.get("covariates", []) or [])
                                    + list(analysis.get("strata", []) or [])))
    extra = "".join(f" + {c}" for c in covariates)
    if analysis.get("response") == "raw":
        return f"score ~ arm × visit{extra}, fitted to all visits ({visits_txt}) without a baseline covariate,"
    return f"change from baseline ~ baseline{extra} + arm × visit, fitted to the post-baseline visits ({visits_txt})"


def _methods(config: dict, models: pd.DataFrame | None = None) -> list[str]:
    reference, treatment = _arms(config)
    base = _baseline(config) or "baseline"
    raw = (config.get("analysis", {}) or {}).get("response") == "raw"
    post = [v for v in _visit_order(config) if raw or v != base]
    level = _ci_level(config)
    alpha = _as_float((config.get("analysis", {}) or {}).get("alpha", 0.05)) or 0.05
    df_label = _df_label(config)
    if df_label == "Kenward-Roger":
        cov = (
            "The covariance matrix of the fixed effects is the model-based "
            "(X′V̂⁻¹X)⁻¹ with the Kenward-Roger small-sample adjustment, and "
            "denominator degrees of freedom are obtained by the Kenward-Roger method"
        )
    else:
        cov = (
            "The covariance matrix of the fixed effects is the model-based "
            "(X′V̂⁻¹X)⁻¹, and denominator degrees of freedom are obtained by "
            "the Satterthwaite approximation"
        )
    visits_txt = ", ".join(post) if post else "the post-baseline visits"
    structure, fallback_note = _structure_text(config, models)
    return [
        (
            f"Each outcome was analysed with a mixed model for repeated measures (MMRM): "
            f"{_model_text(config, visits_txt)} with {structure} of the "
            f"repeated measurements within participant, estimated by restricted maximum "
            f"likelihood (REML). {fallback_note}{cov}; {level} confidence intervals use the t "
            f"distribution with these degrees of freedom (α = {fmt_num(alpha, 2)})."
        ),
        (
            f"The treatment effect at each visit is the difference in adjusted mean "
            f"change from baseline, {treatment} minus {reference}. As a sensitivity "
            f"analysis, a linear mixed model (LMM) with the same fixed effects and a "
            f"random intercept per participant was fitted."
        ),
        (
            "This is a pilot trial, so the emphasis is on estimation: effects are "
            "reported with their confidence intervals first, and p-values are given "
            "last, for completeness only; they are not tests of efficacy."
        ),
    ]


def _figure_items(figures: dict[str, str | PathLike]) -> list[dict]:
    items = []
    for i, (caption, fpath) in enumerate(figures.items(), start=1):
        data = Path(fpath).read_bytes()
        if not data.startswith(PNG_MAGIC):
            raise ValueError(f"figure {caption!r} at {fpath} is not a PNG file")
        caption = str(caption).strip()
        items.append(
            {
                "number": i,
                "caption": caption,
                "alt": f"Figure {i}: {caption}" if caption else f"Figure {i}",
                "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            }
        )
    return items


def _text_or_missing(x: Any) -> str:
    if x is None:
        return MISSING
    if isinstance(x, float) and not math.isfinite(x):
        return MISSING
    text = str(x)
    return text if text.strip() else MISSING


def _provenance(provenance: dict) -> dict:
    packages = provenance.get("packages") or {}
    return {
        "config_yaml": _text_or_missing(provenance.get("config_yaml")),
        "data_sha256": _text_or_missing(provenance.get("data_sha256")),
        "data_path": _text_or_missing(provenance.get("data_path")),
        "git_commit": _text_or_missing(provenance.get("git_commit")),
        "command": _text_or_missing(provenance.get("command")),
        "packages": [
            {"name": str(k), "version": _text_or_missing(packages[k])}
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


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def render_report(
    config: dict,
    contrasts: pd.DataFrame,
    descriptives: pd.DataFrame,
    figures: dict[str, str | PathLike],
    provenance: dict,
    models: pd.DataFrame | None = None,
) -> str:
    """Render the statistical report as one self-contained HTML document.

    Parameters
    ----------
    config : dict
        Trial configuration (``trial``, ``arms``, ``visits``, ``outcomes``,
        ``analysis``).
    contrasts : pandas.DataFrame
        Columns ``outcome, model, visit, estimate, std_error, df, ci_lower,
        ci_upper, p_value``; ``model`` is ``mmrm`` or ``lmm``.
    descriptives : pandas.DataFrame
        Columns ``outcome, arm, visit, n, mean, sd, median, q1, q3,
        n_missing`` and optionally ``change_mean, change_sd``.
    figures : dict
        Caption -> PNG path, embedded in dict order as ``data:`` URIs.
    provenance : dict
        Keys ``config_yaml, data_sha256, data_path, packages, git_commit,
        command``.
    models : pandas.DataFrame, optional
        One row per outcome x model with the covariance structure used
        (``outcome, model, covariance``), so the methods state what was fitted.

    Returns
    -------
    str
        The HTML document. The same inputs always give the same string.

    Raises
    ------
    ValueError
        If a figure file is not a PNG.
    """
    trial = config.get("trial", {}) or {}
    title = str(trial.get("title") or trial.get("name") or "Randomized pilot trial")
    reference, treatment = _arms(config)
    base = _baseline(config)
    key = set(_key_visits(config))
    n_by_arm = _randomized_per_arm(config, descriptives)
    known = [n for n in n_by_arm.values() if n is not None]
    n_total = sum(known) if known else None

    design = str(trial.get("design", "")) or None
    design_text = {
        "parallel": "parallel-group, two-arm randomized pilot trial",
    }.get(design or "", f"{design} randomized pilot trial" if design else MISSING)

    arms = []
    for arm, n in n_by_arm.items():
        role = "reference" if arm == reference else "treatment" if arm == treatment else "other"
        arms.append({"name": arm, "role": role, "n": fmt_int(n)})

    visits = []
    for v in _visit_order(config):
        tags = []
        if v == base:
            tags.append("baseline")
        if v in key:
            tags.append("key visit")
        visits.append({"name": v, "tags": ", ".join(tags)})

    outcomes = []
    for oc in _outcomes(config):
        rng = oc.get("range")
        rng_text = (
            f"{fmt_num(rng[0], 0)}–{fmt_num(rng[1], 0)}"
            if isinstance(rng, (list, tuple)) and len(rng) == 2
            else MISSING
        )
        outcomes.append(
            {
                "name": str(oc.get("name")),
                "column": _text_or_missing(oc.get("column")),
                "range": rng_text,
                "better": {"lower": "lower", "higher": "higher"}.get(oc.get("better"), MISSING),
                "primary": bool(oc.get("primary")),
            }
        )

    context = {
        "title": title,
        "trial_name": _text_or_missing(trial.get("name")),
        "design": design_text,
        "arms": arms,
        "n_total": fmt_int(n_total),
        "visits": visits,
        "outcomes": outcomes,
        "methods": _methods(config, models),
        "key_results": _key_results(config, contrasts),
        "ci_level": _ci_level(config),
        "df_label": _df_label(config),
        "contrast_rows": _contrast_rows(config, contrasts),
        "descriptive_rows": _descriptive_rows(config, descriptives),
        "figures": _figure_items(figures),
        "provenance": _provenance(provenance),
        "reference": reference,
        "treatment": treatment,
    }
    html = _environment().get_template(_TEMPLATE_NAME).render(**context)
    return html.replace("\r\n", "\n")


def write_report(path: str | PathLike, html: str) -> None:
    """Write the HTML report as UTF-8 with ``"\\n"`` line endings.

    Parameters
    ----------
    path : str or path-like
        Output file; parent directories are created.
    html : str
        Document from :func:`render_report`.
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

    Inputs are the tables of :mod:`pilottrial.crossover`: contrasts (the contrasts.csv
    contract), the carry-over/period table, descriptives (``by == "treatment x period"`` rows
    are shown) and the model table (participants per sequence, covariance parameters).
    """
    reference, treatment = _arms(config)
    crossover = config.get("crossover", {}) or {}
    trial = config.get("trial", {}) or {}
    df_label = _df_label(config)
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
        f"{_ci_level(config)} confidence intervals use the t distribution with {df_label} degrees of "
        f"freedom" + (f" ({information} information)" if df_label == "Kenward-Roger" and information else "")
        + ". Participants with only one period contribute to the model through the random intercept.",
        "Carry-over was checked by comparing the participant totals between sequences (Grizzle 1965; "
        "Hills & Armitage 1979); this test has low power and, following Senn (2002), did not decide the "
        "analysis. The period effect is shown beside it.",
        "This is a pilot trial, so the emphasis is on estimation: effects are reported with their "
        "confidence intervals first, and p-values are given last, for completeness only.",
    ]
    sentences = []
    for outcome in _outcomes(config):
        rows = contrasts[contrasts["outcome"] == outcome["name"]]
        for _, row in rows.iterrows():
            sentences.append(key_result_sentence(config, outcome, str(row["visit"]), row))
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
        "outcome": r.outcome, "treatment": _text_or_missing(r.treatment), "period": _text_or_missing(r.period),
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
        "title": str(trial.get("title") or trial.get("name")), "trial_name": str(trial.get("name")),
        "reference": reference, "treatment": treatment, "washout": crossover.get("washout"),
        "timepoint": crossover.get("timepoint", "the post-treatment rating"), "sequences": sequences,
        "methods": methods, "sentences": sentences, "contrast_rows": contrast_rows,
        "carryover_rows": carryover_rows, "descriptive_rows": descriptive_rows,
        "ci_level": _ci_level(config), "figures": _figure_items(figures), "provenance": _provenance(provenance),
    }
    return _environment().get_template("crossover_report.html").render(**context)
