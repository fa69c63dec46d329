"""Rule outcome_figures: the CONSORT flow and every per-outcome figure of one trial, in one job
(mean score and change, trajectories, residual diagnostics, missing pattern, waterfall)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")


from pilottrial.analyses.feasibility import read_screening_log
from pilottrial.data.table import read_table
from pilottrial.report.figures.consort import plot_consort
from pilottrial.report.figures.diagnostics import plot_residuals
from pilottrial.report.figures.missing import plot_missing_pattern
from pilottrial.report.figures.outcomes import plot_mean_change, plot_mean_score, plot_trajectories
from pilottrial.report.figures.waterfall import plot_waterfall

config = snakemake.params.config
analysis = read_table(snakemake.input.analysis)
plot_consort(analysis, config, read_screening_log(config), snakemake.output.consort)
PLOTS = {
    "mean_change": lambda outcome, path: plot_mean_change(analysis, outcome, config, path),
    "trajectories": lambda outcome, path: plot_trajectories(analysis, outcome, config, path),
    "mean_score": lambda outcome, path: plot_mean_score(analysis, outcome, config, path),
    "residuals": lambda outcome, path: plot_residuals(analysis, outcome, config, path),
    "missing_pattern": lambda outcome, path: plot_missing_pattern(analysis, config, path, outcome=outcome),
    "waterfall": lambda outcome, path: plot_waterfall(analysis, outcome, config, path),
}
for outcome, figures in snakemake.params.figures.items():
    for kind, path in figures.items():
        PLOTS[kind](outcome, path)
        print(f"{outcome}: {kind} -> {path}", file=sys.stderr)
