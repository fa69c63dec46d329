# Job priorities (priority:) order the jobs on few cores so that both stay busy to the end:
# the power gather as soon as its shards are done (10), the longest job, the per-outcome figures
# (9), the primary models (8; they gate the simulations and the secondary analyses), the
# sensitivity analyses (7), the power shards (6), secondary -> trial figures (5). (The best of
# all orders in a simulation of the demo's measured job times on 2 cores, also with the times
# perturbed by 15%; measured: benchmarks/bench_pipeline.py.)
# The config is the single source of truth. No `configfile:` directive on purpose: Snakemake
# merges a --configfile into the directive's config key by key, so a trial's own config would
# inherit the demo's keys. The demo config is read only when no config was given.
#
# One trial:   snakemake --cores all [--configfile trial.yaml]
# Many trials: snakemake --cores all --config trials=config/config.yaml,config/crossover.yaml
#              (one DAG; results/<name>/ per trial and results/index.html linking the reports)
import atexit
import gc
import os
import re
from pathlib import Path

import yaml

from pilottrial.config import load_config, validate_config
from pilottrial.errors import InputError, exit_with
from pilottrial.planning.options import power_settings
from pilottrial.provenance.input_check import check_trial_inputs
from pilottrial.provenance.record import input_files
from pilottrial.provenance.sources import library_sources
from pilottrial.registry import (
    HARMS_TABLES,
    PILOT_TABLES,
    PLANNING_TABLES,
    figure_outputs,
    outcome_figure_files,
    outcome_slugs,
    report_figure_specs,
)

# The repository holding this workflow: the workflow also runs from a trial folder of its own
# (snakemake --snakefile <repo>/Snakefile, pilottrial run, a Snakemake module), results/ there.
REPO = Path(str(workflow.current_basedir)).parents[1]
DEFAULT_CONFIG = os.path.relpath(REPO / "config" / "config.yaml")


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
        if Path(source).is_absolute() and Path(source).is_relative_to(Path.cwd()):
            source = os.path.relpath(source)  # Snakemake makes --configfile absolute; the report names it as given
        raw = dict(config) or yaml.safe_load(Path(DEFAULT_CONFIG).read_text(encoding="utf-8"))
        loaded = [(str(source), validate_config(raw, source=source, base_dir=Path(source).parent))]
    for source, checked in loaded:
        name = checked["trial"]["name"]
        if name in TRIALS:
            raise InputError(f"two configs name the trial {name!r}", file=source,
                             fix="give every trial its own trial.name (it names the results folder)")
        # bad input stops here, before any job runs: one line, nothing written. A check that
        # passed is remembered by the digest of the config, the input files and the library.
        check_trial_inputs(checked)
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

def library(script):
    """The library files a rule's script imports (pilottrial.provenance.sources): a change in
    them reruns the rule, a change elsewhere in the library does not."""
    path = REPO / "scripts" / f"{script}.py"  # not a local file when the module is fetched from GitHub
    return library_sources(path, relative_to=".") if path.is_file() else []


def trial_config(wildcards):
    return TRIALS[wildcards.trial]


def config_source(wildcards):
    return SOURCES[wildcards.trial]


def data_path(wildcards):
    return TRIALS[wildcards.trial]["data"]["path"]


def trial_slugs(trial):
    return outcome_slugs(o["name"] for o in TRIALS[trial]["outcomes"])


def outcome_name(wildcards):
    return trial_slugs(wildcards.trial)[wildcards.outcome]


def crossover_figure_paths(trial):
    return {
        f"{name}: change from the period baseline by sequence and period": f"results/{trial}/figures/{slug}_crossover.png"
        for slug, name in trial_slugs(trial).items()
    }


def harms_files(trial):
    harms = TRIALS[trial].get("harms") or {}
    return [harms[k]["path"] for k in ("adverse_events", "dissociation") if harms.get(k)]


# The secondary analyses of a trial with harms files also tabulate the harms (analyses.smk:
# secondary_with_harms): a job of their own would cost an interpreter and the imports.
WITH_HARMS = names_pattern(n for n, c in TRIALS.items() if c["trial"]["design"] != "crossover" and harms_files(n))
WITHOUT_HARMS = names_pattern(
    n for n, c in TRIALS.items() if c["trial"]["design"] != "crossover" and not harms_files(n)
)


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
    tables = list(PILOT_TABLES) + (list(HARMS_TABLES) if harms_files(trial) else [])
    return [f"{results}/tables/{name}.csv" for name in tables] + [f"{results}/report.html", f"{results}/report.pdf"]


def outcome_figures_rule(trial):
    """Name of the rule drawing a trial's per-outcome figures (report_figures.smk)."""
    return "outcome_figures_{}".format(re.sub(r"\W", "_", trial))


def outcome_figure_outputs(trial):
    """Named outputs of outcome_figures_<trial>: the CONSORT flow and every per-outcome figure,
    the mean change and trajectories tagged for Snakemake's report."""
    files = outcome_figure_files(TRIALS[trial], f"results/{trial}")
    outputs = {"consort": f"results/{trial}/figures/consort.png",
               "consort_svg": f"results/{trial}/figures/consort.svg"}
    tagged = {f"{slug}_{kind}.png": (slug, kind) for slug in trial_slugs(trial)
              for kind in ("mean_change", "trajectories")}
    for path in figure_outputs(files):
        name = Path(path).name
        slug, kind = tagged.get(name, (None, None))
        outputs[name.replace(".", "_").replace("-", "_")] = path if kind is None else report(
            path, caption=f"../report/{kind}.rst", category="Figures",
            labels={"outcome": slug, "figure": kind.replace("_", " ")})
    return outputs


def report_figures(trial):
    """The figures the report embeds: {key: {"path", "caption", "section"}} (pilottrial.report.sections)."""
    return report_figure_specs(TRIALS[trial], f"results/{trial}")


def report_tables(wildcards):
    """Named inputs of the report rule: every result table of the trial, {name: path}."""
    trial = wildcards.trial
    if TRIALS[trial]["analysis"]["response"] == "raw":
        names = ["contrasts", "descriptives", "models"]
    else:
        names = [*PILOT_TABLES[:2], "models", *PILOT_TABLES[2:], "table_one"]
        names += list(HARMS_TABLES) if harms_files(trial) else []
    tables = {name: f"results/{trial}/tables/{name}.csv" for name in names}
    if trial in POWER and TRIALS[trial]["analysis"]["response"] != "raw":
        tables |= {name: f"results/{trial}/power/{name}.csv" for name in PLANNING_TABLES}
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
# The primary models of a parallel trial whose power is planned also write the simulation plan
# (models.smk: primary_models_planned); those of the others do not (primary_models).
PLANNED = names_pattern(n for n in POWER if TRIALS[n]["trial"]["design"] != "crossover")
UNPLANNED = names_pattern(n for n, c in TRIALS.items() if c["trial"]["design"] != "crossover" and n not in POWER)


def power_outputs(trial):
    """The power outputs of one trial ([] when power is not enabled)."""
    names = ("power_curve.csv", "sample_size.csv", "power_curve.png")
    return [f"results/{trial}/power/{name}" for name in names] if trial in POWER else []


POWER_OUTPUTS = [path for trial in POWER for path in power_outputs(trial)]


def final_outputs():
    outputs = [f"results/{trial}/MANIFEST.sha256" for trial in TRIALS]
    return outputs + (["results/index.html"] if MULTI else [])


# Snakemake's job rate limiter (--max-jobs-per-timespan, default 100/1s) starts a one-second
# threading.Timer after each scheduling round, and the interpreter waits for the last one before
# it exits: about a second after every run. The run is over when these handlers are called, so
# the timers have nothing left to wake; cancelling them lets Snakemake exit at once.
def cancel_scheduler_timers(log=None):
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


# At exit the interpreter's last garbage collection walks every object Snakemake and the
# libraries made (about 0.2 s of a 1.4 s no-op run); nothing is left to collect by then, so the
# objects are frozen out of it (gc.freeze; registered now, it runs before the handlers that
# Snakemake and logging registered earlier, which still close their files).
atexit.register(gc.freeze)


onsuccess:
    cancel_scheduler_timers()


onerror:
    cancel_scheduler_timers()
