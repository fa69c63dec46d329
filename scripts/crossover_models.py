"""Rule crossover_models: the crossover LMM, carry-over check and descriptives."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.data import read_trial_data
from pilottrial.models.crossover import (
    carryover_test,
    crossover_contrasts,
    crossover_descriptives,
    crossover_models,
    crossover_table,
)

config = snakemake.params.config
table = crossover_table(read_trial_data(config), config)
out = {"lineterminator": "\n", "index": False, "float_format": "%.10g"}
table.to_csv(snakemake.output.table, **out)
crossover_contrasts(table, config).to_csv(snakemake.output.contrasts, **out)
carryover_test(table, config).to_csv(snakemake.output.carryover, **out)
crossover_descriptives(table, config).to_csv(snakemake.output.descriptives, **out)
crossover_models(table, config).to_csv(snakemake.output.models, **out)
