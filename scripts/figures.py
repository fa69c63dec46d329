"""Rule figures: mean change and individual trajectories of one outcome."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.report.figures.outcomes import plot_mean_change, plot_trajectories

analysis = pd.read_csv(snakemake.input.analysis)
config, outcome = snakemake.params.config, snakemake.params.outcome
plot_mean_change(analysis, outcome, config, snakemake.output.mean_change)
plot_trajectories(analysis, outcome, config, snakemake.output.trajectories)
