"""Rule crossover_figure: within-period change by sequence for one outcome (a figure saying why,
with the traceback in the log, when it cannot be drawn for this trial)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")


from pilottrial.data.table import read_table
from pilottrial.report.figures.crossover import plot_crossover
from pilottrial.report.figures.layout import draw_or_placeholder

outcome = snakemake.params.outcome
draw_or_placeholder(lambda: plot_crossover(read_table(snakemake.input.table), outcome, snakemake.params.config,
                                           snakemake.output.figure),
                    snakemake.output.figure, f"{outcome}: change within each period by sequence", svg=False)
