"""Rule crossover_figure: within-period change by sequence for one outcome."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from pilottrial.report.figures.crossover import plot_crossover

plot_crossover(pd.read_csv(snakemake.input.table), snakemake.params.outcome, snakemake.params.config,
               snakemake.output.figure)
