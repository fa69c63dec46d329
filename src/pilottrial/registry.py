"""One list of outputs: the names of every result table and figure of a trial.

The workflow's rules, the report and the tests read the file names from here, so that a name
lives in one place. Tables are CSV files under ``results/<trial>/tables/``, figures PNG (with an
SVG beside each) under ``results/<trial>/figures/``; per-outcome figures are named after
:func:`outcome_slug`.
"""

from __future__ import annotations

import re

from pilottrial.config.trial import Trial
from pilottrial.report.format import visit_label

__all__ = ["TABLE_NAMES", "PILOT_TABLES", "HARMS_TABLES", "PLANNING_TABLES", "OUTCOME_FIGURES", "SVG_FIGURES",
           "outcome_figure_files", "figure_outputs",
           "TRIAL_FIGURES", "outcome_slug", "outcome_slugs", "report_figure_specs"]

#: The complete pilot analysis of a parallel trial analysed on change from baseline
#: (``results/<trial>/tables/<name>.csv``), in the order the rules make them.
PILOT_TABLES = ("contrasts", "descriptives", "multiplicity", "effect_sizes", "responders", "posterior",
                "sensitivity", "missing_data", "multiple_imputation", "tipping_point", "feasibility",
                "progression", "mechanism", "estimands")
#: Tables made only when the config declares the harms files.
HARMS_TABLES = ("adverse_events", "dissociation")
#: Tables of the planning step (``results/<trial>/power/<name>.csv``).
PLANNING_TABLES = ("sample_size", "power_curve")
#: Every table the report reads (file stems), in the report's order.
TABLE_NAMES = ("contrasts", "descriptives", "models", "multiplicity", "effect_sizes", "responders", "posterior",
               "sensitivity", "missing_data", "multiple_imputation", "tipping_point", "adverse_events",
               "dissociation", "feasibility", "progression", "mechanism", "estimands", "table_one",
               "sample_size", "power_curve")
#: Figures made once per outcome: ``figures/<slug>_<name>.png``.
OUTCOME_FIGURES = ("mean_score", "mean_change", "trajectories", "residuals", "missing_pattern", "waterfall")
#: Figures made once per trial: ``figures/<name>.png``.
TRIAL_FIGURES = ("consort", "forest", "responders", "tipping_point")


def outcome_slug(name: str) -> str:
    """A file-name-safe, lower-case slug of an outcome name: 'CAPS-5' -> 'caps-5'."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return slug or "outcome"


def outcome_slugs(names) -> dict:
    """``{slug: name}`` for the outcome names, in their order."""
    return {outcome_slug(str(n)): str(n) for n in names}


def report_figure_specs(config: dict, results_dir: str) -> dict[str, dict]:
    """The figures the report embeds, in order: ``{key: {"path", "caption", "section"}}``.

    Paths follow the file names of the figure modules (:mod:`pilottrial.report.figures`)
    under ``results_dir`` (``results/<trial>``); the workflow can use the paths as the report
    rule's inputs and the dict as its ``figures`` param.

    * ``figures/consort.png`` -- participant flow;
    * per efficacy outcome ``<slug>_mean_score.png`` and ``<slug>_mean_change.png``, the primary
      outcome's ``<slug>_trajectories.png``, and ``forest.png`` -- outcomes;
    * ``<primary>_waterfall.png`` and ``responders.png`` -- responders;
    * ``<primary>_missing_pattern.png`` and ``tipping_point.png`` -- missing data;
    * per mechanism outcome ``<slug>_mean_change.png`` -- mechanism;
    * per efficacy outcome ``<slug>_residuals.png`` -- appendix (model diagnostics).

    A raw-score trial (``analysis.response: raw``) gets the CONSORT diagram and the mean score
    and mean change of every outcome only.
    """
    trial = Trial.from_config(config)
    level = f"{100.0 * (1.0 - trial.alpha):g}%"
    reference = trial.reference
    if trial.is_multi_arm:  # three or more arms: the captions name every arm / each comparison
        allocated = ", ".join(trial.treatments) + f" or {reference}"
        difference = (f"each treatment arm minus {reference}" if trial.comparison_mode == "vs_reference"
                      else "each pair of arms")
        shifted = "imputed values of each treatment arm"
    else:
        treatment = trial.treatment
        allocated, difference = f"{treatment} or {reference}", f"{treatment} minus {reference}"
        shifted = f"imputed {treatment}-arm values"
    outcomes = sorted(trial.outcomes, key=lambda o: 0 if o.primary else 1)
    efficacy = [o for o in outcomes if not o.is_mechanism]
    primary = trial.primary if trial.outcomes else None
    key = list(trial.key_visits) or list(trial.post_baseline)
    root = str(results_dir).rstrip("/")
    specs: dict[str, dict] = {}

    def add(name: str, caption: str, section: str, outcome: str = "") -> None:
        specs[name] = {"path": f"{root}/figures/{name}.png", "caption": caption, "section": section}
        if outcome:
            specs[name]["outcome"] = outcome

    add("consort", f"CONSORT flow diagram: screening, randomization to {allocated}, follow-up "
                   f"at each visit and the participants in the primary analysis.", "flow")
    specs["consort"]["wide"] = True
    if trial.response == "raw":
        # raw-score trials get the primary analysis only: no change-based secondary figures
        for o in outcomes:
            slug = outcome_slug(o.name)
            add(f"{slug}_mean_score", f"{o.name}: mean score by arm at each visit ({level} CI).", "outcomes",
                o.name)
            add(f"{slug}_mean_change", f"{o.name}: mean change from baseline by arm ({level} CI).", "outcomes",
                o.name)
        return specs
    for o in efficacy:
        slug = outcome_slug(o.name)
        add(f"{slug}_mean_score", f"{o.name}: mean score by arm at each visit ({level} CI).", "outcomes",
            o.name)
        add(f"{slug}_mean_change", f"{o.name}: mean change from baseline by arm ({level} CI).", "outcomes",
            o.name)
    if primary is not None and not primary.is_mechanism:
        add(f"{outcome_slug(primary.name)}_trajectories",
            f"{primary.name}: individual participant trajectories by arm, with the arm means.", "outcomes",
            primary.name)
    mcid = "; dashed lines at plus and minus the MCID" if any(o.mcid is not None for o in efficacy) else ""
    add("forest", f"Treatment differences ({difference}) in adjusted mean change at the key "
                  f"visits with {level} CIs{mcid}"
                  + (f"; thin lines: the {level} CIs adjusted across the comparisons" if trial.is_multi_arm else "")
                  + ".", "outcomes")
    specs["forest"]["wide"] = True
    if primary is not None and not primary.is_mechanism:
        slug = outcome_slug(primary.name)
        when = visit_label(key[-1]) if key else "the last key visit"
        add(f"{slug}_waterfall", f"{primary.name}: percent change from baseline at {when}, one bar per "
                                 f"participant; the dashed line is the responder threshold.", "responders")
        add("responders", "Responders and remitters by arm at the key visits (95% Wilson intervals).", "responders")
        add(f"{slug}_missing_pattern", f"{primary.name}: observed and missing assessments, participant by "
                                       f"visit, grouped by arm.", "missing-data")
        add("tipping_point", "Tipping-point analysis: the treatment difference at the last key visit as the "
                             f"{shifted} are shifted by δ in the unfavourable direction.", "missing-data")
    for o in outcomes:
        if not o.is_mechanism:
            continue
        slug = outcome_slug(o.name)
        add(f"{slug}_mean_change", f"{o.name}: mean change from baseline by arm ({level} CI).", "mechanism")
    if trial.section("power").get("enabled") and trial.response != "raw":
        specs["power_curve"] = {"path": f"{results_dir}/power/power_curve.png", "section": "planning",
                                "caption": "Power of the definitive trial by sample size per arm: simulation with "
                                           "the pilot's MMRM (95% Monte Carlo intervals) beside the analytic "
                                           "approximations."}
    for o in efficacy:
        slug = outcome_slug(o.name)
        add(f"{slug}_residuals", f"{o.name}: MMRM residual diagnostics, normal QQ plot and standardized "
                                 f"residual against fitted value.", "diagnostics")
    return specs


#: Per-outcome figures that also get an SVG beside the PNG.
SVG_FIGURES = ("mean_score", "residuals", "missing_pattern", "waterfall")


def outcome_figure_files(config: dict, results_dir: str) -> dict[str, dict[str, str]]:
    """The per-outcome figures of a parallel trial: ``{outcome: {kind: png path}}``.

    Every outcome gets its mean change and trajectories; efficacy outcomes (every outcome of a
    raw-score trial) their mean score, MMRM residual diagnostics and missing-data pattern; the
    primary efficacy outcome of a change-from-baseline trial its waterfall. The kinds in
    :data:`SVG_FIGURES` are also written as SVG (same path, ``.svg``).
    """
    trial = Trial.from_config(config)
    root = str(results_dir).rstrip("/")
    raw = trial.response == "raw"
    files: dict[str, dict[str, str]] = {}
    for outcome in trial.outcomes:
        kinds = ["mean_change", "trajectories"]
        if raw or outcome.is_efficacy:
            kinds += ["mean_score", "residuals", "missing_pattern"]
        if not raw and outcome.primary and outcome.is_efficacy:
            kinds.append("waterfall")
        slug = outcome_slug(outcome.name)
        files[outcome.name] = {kind: f"{root}/figures/{slug}_{kind}.png" for kind in kinds}
    return files


def figure_outputs(files: dict[str, dict[str, str]]) -> list[str]:
    """Every file (PNG and SVG) of :func:`outcome_figure_files`, sorted."""
    paths = []
    for kinds in files.values():
        for kind, png in kinds.items():
            paths.append(png)
            if kind in SVG_FIGURES:
                paths.append(png[: -len(".png")] + ".svg")
    return sorted(paths)
