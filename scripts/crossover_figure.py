"""Rule crossover_figure: within-period change by sequence for one outcome."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")


from pilottrial.data.table import read_table
from pilottrial.report.figures.crossover import plot_crossover

plot_crossover(read_table(snakemake.input.table), snakemake.params.outcome, snakemake.params.config,
               snakemake.output.figure)
