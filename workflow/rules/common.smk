# The config is the single source of truth. No `configfile:` directive on purpose: Snakemake
# merges a --configfile into the directive's config key by key, so a trial's own config would
# inherit the demo's keys. Here the demo config is read only when no config was given.
import sys
from pathlib import Path

import yaml

from pilottrial.config import validate_config
from pilottrial.crossover import crossover_table
from pilottrial.feasibility import read_screening_log
from pilottrial.harms import read_harms
from pilottrial.data import read_and_check, read_trial_data
from pilottrial.errors import InputError, exit_with
from pilottrial.figures_index import outcome_slug

DEFAULT_CONFIG = "config/config.yaml"
CONFIG_SOURCE = workflow.overwrite_configfiles[-1] if workflow.overwrite_configfiles else DEFAULT_CONFIG
if not config:
    config.update(yaml.safe_load(Path(DEFAULT_CONFIG).read_text(encoding="utf-8")))

try:
    _checked = validate_config(dict(config), source=CONFIG_SOURCE)
    # Check the data before any job runs: bad input stops here, one line, nothing written.
    if _checked["trial"]["design"] == "crossover":
        crossover_table(read_trial_data(_checked), _checked)
    else:
        _frame, _long = read_and_check(_checked)
        _participants = _frame[[_long["columns"]["participant"], _long["columns"]["arm"]]].drop_duplicates()
        _participants.columns = ["participant", "arm"]
        read_harms(_checked, _participants)  # the harms files and the screening log, too
        read_screening_log(_checked)
except InputError as error:
    exit_with(error)
config.clear()
config.update(_checked)

TRIAL = config["trial"]["name"]
RESULTS = f"results/{TRIAL}"
LOGS = f"logs/{TRIAL}"
OUTCOME_SLUGS = {outcome_slug(o["name"]): o["name"] for o in config["outcomes"]}


# The statistics live in the library: a change there must rerun the rules that use it.
LIBRARY = sorted(str(p) for p in Path("src/pilottrial").rglob("*") if p.suffix in {".py", ".html", ".yaml"})


CROSSOVER = config["trial"]["design"] == "crossover"


def final_outputs():
    if CROSSOVER:
        return [f"{RESULTS}/tables/contrasts.csv", f"{RESULTS}/tables/carryover.csv", f"{RESULTS}/report.html"]
    tables = ["contrasts", "descriptives", "multiplicity", "effect_sizes", "responders", "posterior",
              "sensitivity", "missing_data", "multiple_imputation", "tipping_point", "feasibility",
              "progression", "mechanism", "estimands"]
    if harms_files():
        tables += ["adverse_events", "dissociation"]
    return [f"{RESULTS}/tables/{name}.csv" for name in tables] + [f"{RESULTS}/report.html"]


def harms_files():
    harms = config.get("harms") or {}
    return [harms[k]["path"] for k in ("adverse_events", "dissociation") if harms.get(k)]


def feasibility_files():
    log = (config.get("feasibility") or {}).get("screening_log")
    return [log["path"]] if log else []


def figure_paths():
    return {
        f"{name}: mean change from baseline (95% CI) by arm": f"{RESULTS}/figures/{slug}_mean_change.png"
        for slug, name in OUTCOME_SLUGS.items()
    } | {
        f"{name}: individual trajectories by arm": f"{RESULTS}/figures/{slug}_trajectories.png"
        for slug, name in OUTCOME_SLUGS.items()
    }


def crossover_figure_paths():
    return {
        f"{name}: change from the period baseline by sequence and period": f"{RESULTS}/figures/{slug}_crossover.png"
        for slug, name in OUTCOME_SLUGS.items()
    }
