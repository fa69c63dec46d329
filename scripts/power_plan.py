"""Rule power_plan: fit the pilot's primary MMRM and write the simulation plan (JSON)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.data.table import read_table
from pilottrial.errors import InputError, exit_with
from pilottrial.planning import pilot_plan

try:
    plan = pilot_plan(read_table(snakemake.input.analysis), snakemake.params.config, snakemake.params.config_source)
except InputError as error:
    exit_with(error)
plan.to_json(snakemake.output.plan)
if not plan.estimable:  # nothing to simulate: the sample-size table will say why
    print(f"plan: {plan.outcome} at {plan.visit}: {plan.not_estimable}", file=sys.stderr)
else:
    print(f"plan: {plan.outcome} at {plan.visit}; effects {[(e['source'], round(e['value'], 3)) for e in plan.effects]}; "
          f"n per arm {plan.n_per_arm}; {plan.n_sims} simulations each; variance inflation "
          f"{plan.variance_inflation} (x{plan.inflation_factor:.3f})", file=sys.stderr)
