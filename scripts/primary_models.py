"""Rules primary_models and primary_models_planned: MMRM and LMM treatment contrasts for every
outcome, and the descriptive statistics; with power.enabled, also the simulation plan from the
pilot's primary MMRM."""
import logging
import sys

sys.stderr = open(snakemake.log[0], "w")
# progress of long fits, structures skipped or failed, models not estimable: to the rule's log
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

from pilottrial.data.table import read_table
from pilottrial.models.primary import descriptives, primary_contrasts

analysis = read_table(snakemake.input.analysis)
descriptives(analysis, snakemake.params.config).to_csv(snakemake.output.descriptives, index=False,
                                                         lineterminator="\n", float_format="%.10g")
contrasts, models = primary_contrasts(analysis, snakemake.params.config)
contrasts.to_csv(snakemake.output.contrasts, index=False, lineterminator="\n", float_format="%.10g")
models.to_csv(snakemake.output.models, index=False, lineterminator="\n", float_format="%.10g")
print(models.to_string(index=False), file=sys.stderr)
if "plan" in snakemake.output.keys():
    from pilottrial.errors import InputError, exit_with
    from pilottrial.planning import pilot_plan

    try:
        plan = pilot_plan(analysis, snakemake.params.config, snakemake.params.config_source)
    except InputError as error:
        exit_with(error)
    plan.to_json(snakemake.output.plan)
    print(plan.describe(), file=sys.stderr)
