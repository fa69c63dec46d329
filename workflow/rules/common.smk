# The config is the single source of truth. No `configfile:` directive on purpose: Snakemake
# merges a --configfile into the directive's config key by key, so a trial's own config would
# inherit the demo's keys. The demo config is read only when no config was given.
#
# One trial:   snakemake --cores all [--configfile trial.yaml]
# Many trials: snakemake --cores all --config trials=config/config.yaml,config/crossover.yaml
#              (one DAG; results/<name>/ per trial and results/index.html linking the reports)
import re
from pathlib import Path

import yaml

from pilottrial.config.load import load_config, validate_config
from pilottrial.models.crossover import crossover_table
from pilottrial.data.ingest import read_and_check, read_trial_data
from pilottrial.errors import InputError, exit_with
from pilottrial.analyses.feasibility import read_screening_log
from pilottrial.registry import outcome_slug
from pilottrial.analyses.harms import read_harms
from pilottrial.planning.power import power_settings
from pilottrial.provenance.record import input_files
from pilottrial.registry import report_figure_specs

DEFAULT_CONFIG = "config/config.yaml"


def _check_inputs(checked):
    """Check a trial's data (and harms/screening files) before any job runs."""
    if checked["trial"]["design"] == "crossover":
        crossover_table(read_trial_data(checked), checked)
        return
    frame, long = read_and_check(checked)
    participants = frame[[long["columns"]["participant"], long["columns"]["arm"]]].drop_duplicates()
    participants.columns = ["participant", "arm"]
    read_harms(checked, participants)
    read_screening_log(checked)


TRIALS, SOURCES = {}, {}
try:
    if "trials" in config:
        listed = config["trials"]
        paths = [p.strip() for p in (listed.split(",") if isinstance(listed, str) else listed) if str(p).strip()]
        if not paths:
            raise InputError("--config trials= names no config file", file="command line",
                             fix="list trial configs: --config trials=a.yaml,b.yaml")
        loaded = [(p, load_config(p)) for p in paths]
    else:
        source = workflow.overwrite_configfiles[-1] if workflow.overwrite_configfiles else DEFAULT_CONFIG
        raw = dict(config) or yaml.safe_load(Path(DEFAULT_CONFIG).read_text(encoding="utf-8"))
        loaded = [(str(source), validate_config(raw, source=source, base_dir=Path(source).parent))]
    for source, checked in loaded:
        name = checked["trial"]["name"]
        if name in TRIALS:
            raise InputError(f"two configs name the trial {name!r}", file=source,
                             fix="give every trial its own trial.name (it names the results folder)")
        _check_inputs(checked)  # bad input stops here: one line, nothing written
        TRIALS[name], SOURCES[name] = checked, source
except InputError as error:
    exit_with(error)

MULTI = "trials" in config
RESULTS = "results/{trial}"
LOGS = "logs/{trial}"


def names_pattern(names):
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


PARALLEL = names_pattern(n for n, c in TRIALS.items() if c["trial"]["design"] != "crossover")
CROSSOVER = names_pattern(n for n, c in TRIALS.items() if c["trial"]["design"] == "crossover")

# The statistics live in the library: a change there must rerun the rules that use it.
LIBRARY = sorted(str(p) for p in Path("src/pilottrial").rglob("*") if p.suffix in {".py", ".html", ".yaml"})


def trial_config(wildcards):
    return TRIALS[wildcards.trial]


def config_source(wildcards):
    return SOURCES[wildcards.trial]


def data_path(wildcards):
    return TRIALS[wildcards.trial]["data"]["path"]


def outcome_slugs(trial):
    return {outcome_slug(o["name"]): o["name"] for o in TRIALS[trial]["outcomes"]}


def outcome_name(wildcards):
    return outcome_slugs(wildcards.trial)[wildcards.outcome]


def figure_paths(trial):
    slugs = outcome_slugs(trial)
    return {
        f"{name}: mean change from baseline (95% CI) by arm": f"results/{trial}/figures/{slug}_mean_change.png"
        for slug, name in slugs.items()
    } | {
        f"{name}: individual trajectories by arm": f"results/{trial}/figures/{slug}_trajectories.png"
        for slug, name in slugs.items()
    }


def crossover_figure_paths(trial):
    return {
        f"{name}: change from the period baseline by sequence and period": f"results/{trial}/figures/{slug}_crossover.png"
        for slug, name in outcome_slugs(trial).items()
    }


def harms_files(trial):
    harms = TRIALS[trial].get("harms") or {}
    return [harms[k]["path"] for k in ("adverse_events", "dissociation") if harms.get(k)]


def feasibility_files(trial):
    log = (TRIALS[trial].get("feasibility") or {}).get("screening_log")
    return [log["path"]] if log else []


def trial_outputs(trial):
    results = f"results/{trial}"
    if TRIALS[trial]["trial"]["design"] == "crossover":
        return [f"{results}/tables/contrasts.csv", f"{results}/tables/carryover.csv", f"{results}/report.html",
                f"{results}/report.pdf"]
    if TRIALS[trial]["analysis"]["response"] == "raw":
        # raw-score analyses: the primary models; the complete pilot analysis (responders, effect
        # sizes over the baseline SD, imputation of changes, ...) is defined on change from baseline
        return [f"{results}/tables/contrasts.csv", f"{results}/tables/descriptives.csv", f"{results}/report.html",
                f"{results}/report.pdf"]
    tables = ["contrasts", "descriptives", "multiplicity", "effect_sizes", "responders", "posterior",
              "sensitivity", "missing_data", "multiple_imputation", "tipping_point", "feasibility",
              "progression", "mechanism", "estimands"]
    if harms_files(trial):
        tables += ["adverse_events", "dissociation"]
    return [f"{results}/tables/{name}.csv" for name in tables] + [f"{results}/report.html", f"{results}/report.pdf"]


def report_figures(trial):
    """The figures the report embeds: {key: {"path", "caption", "section"}} (pilottrial.report.sections)."""
    return report_figure_specs(TRIALS[trial], f"results/{trial}")


def report_tables(wildcards):
    """Named inputs of the report rule: every result table of the trial, {name: path}."""
    trial = wildcards.trial
    names = ["contrasts", "descriptives", "models"]
    if TRIALS[trial]["analysis"]["response"] != "raw":
        names += ["multiplicity", "effect_sizes", "responders", "posterior", "sensitivity", "missing_data",
                  "multiple_imputation", "tipping_point", "feasibility", "progression", "mechanism", "estimands",
                  "table_one"]
        if harms_files(trial):
            names += ["adverse_events", "dissociation"]
    tables = {name: f"results/{trial}/tables/{name}.csv" for name in names}
    if trial in POWER and TRIALS[trial]["analysis"]["response"] != "raw":
        tables |= {name: f"results/{trial}/power/{name}.csv" for name in ("sample_size", "power_curve")}
    return tables


def input_paths(trial):
    """Every input file the trial's config names (data, harms files, screening log): checksummed in the report."""
    return [item["path"] for item in input_files(TRIALS[trial])]


# Planning the definitive trial (power.enabled): settings checked at parse time, like the data.
try:
    POWER = {
        name: power_settings(checked, source=SOURCES[name])
        for name, checked in TRIALS.items()
        if (checked.get("power") or {}).get("enabled")
    }
except InputError as error:
    exit_with(error)
POWER_TRIALS = names_pattern(POWER)


def power_outputs(trial):
    """The power outputs of one trial ([] when power is not enabled)."""
    names = ("power_curve.csv", "sample_size.csv", "power_curve.png")
    return [f"results/{trial}/power/{name}" for name in names] if trial in POWER else []


POWER_OUTPUTS = [path for trial in POWER for path in power_outputs(trial)]


def final_outputs():
    outputs = [f"results/{trial}/MANIFEST.sha256" for trial in TRIALS]
    return outputs + (["results/index.html"] if MULTI else [])
