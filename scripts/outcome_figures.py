"""Rule outcome_figures: the CONSORT flow and every per-outcome figure of one trial, in one job
(mean score and change, trajectories, residual diagnostics, missing pattern, waterfall).

A figure that cannot be drawn for this trial (e.g. a model that does not fit) is replaced by a
figure saying so, with the traceback in the log: the report is written all the same."""
import sys
from functools import partial

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")


from pilottrial.analyses.feasibility import read_screening_log
from pilottrial.data.table import read_table
from pilottrial.report.figures.consort import plot_consort
from pilottrial.report.figures.diagnostics import plot_residuals
from pilottrial.report.figures.layout import draw_or_placeholder
from pilottrial.report.figures.missing import plot_missing_pattern
from pilottrial.report.figures.outcomes import plot_mean_change, plot_mean_score, plot_trajectories
from pilottrial.report.figures.waterfall import plot_waterfall

config = snakemake.params.config
analysis = read_table(snakemake.input.analysis)
screening = read_screening_log(config)
draw_or_placeholder(lambda: plot_consort(analysis, config, screening, snakemake.output.consort),
                    snakemake.output.consort, "CONSORT flow diagram")
PLOTS = {  # kind: (draw, title, has an SVG beside the PNG)
    "mean_change": (lambda outcome, path: plot_mean_change(analysis, outcome, config, path),
                    "mean change from baseline by arm", False),
    "trajectories": (lambda outcome, path: plot_trajectories(analysis, outcome, config, path),
                     "individual trajectories by arm", False),
    "mean_score": (lambda outcome, path: plot_mean_score(analysis, outcome, config, path),
                   "mean score by arm", True),
    "residuals": (lambda outcome, path: plot_residuals(analysis, outcome, config, path),
                  "MMRM residual diagnostics", True),
    "missing_pattern": (lambda outcome, path: plot_missing_pattern(analysis, config, path, outcome=outcome),
                        "observed and missing assessments", True),
    "waterfall": (lambda outcome, path: plot_waterfall(analysis, outcome, config, path),
                  "percent change from baseline", True),
}
for outcome, figures in snakemake.params.figures.items():
    for kind, path in figures.items():
        draw, title, svg = PLOTS[kind]
        drawn = draw_or_placeholder(partial(draw, outcome, path), path, f"{outcome}: {title}", svg=svg)
        print(f"{outcome}: {kind} -> {path}" + ("" if drawn else " (not drawn; placeholder)"), file=sys.stderr)
