"""Rule outcome_figures: mean score, residual diagnostics and missing pattern of one outcome."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.report.figures.trial import plot_mean_score, plot_missing_pattern, plot_residuals

config, outcome = snakemake.params.config, snakemake.params.outcome
analysis = pd.read_csv(snakemake.input.analysis)
plot_mean_score(analysis, outcome, config, snakemake.output.mean_score)
plot_residuals(analysis, outcome, config, snakemake.output.residuals)
plot_missing_pattern(analysis, config, snakemake.output.missing, outcome=outcome)
