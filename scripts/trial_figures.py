"""Rule trial_figures: forest plot, responders, tipping-point map, Table 1."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")


from pilottrial.data import read_trial_data
from pilottrial.data.table import read_table
from pilottrial.report.figures.baseline_table import table_one
from pilottrial.report.figures.forest import plot_forest
from pilottrial.report.figures.missing import plot_tipping
from pilottrial.report.figures.responders import plot_responders

config = snakemake.params.config
analysis = read_table(snakemake.input.analysis)
plot_forest(read_table(snakemake.input.contrasts), config, snakemake.output.forest,
            multiplicity=read_table(snakemake.input.multiplicity),
            effect_sizes=read_table(snakemake.input.effect_sizes))
plot_responders(read_table(snakemake.input.responders), config, snakemake.output.responders)
plot_tipping(read_table(snakemake.input.tipping), config, snakemake.output.tipping)
table_one(analysis, read_trial_data(config), config).to_csv(snakemake.output.table_one, index=False,
                                                            lineterminator="\n", float_format="%.10g")
