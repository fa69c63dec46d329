"""Rule waterfall_figure: % change from baseline at the last key visit, one bar per participant."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.report.figures.trial import plot_waterfall

plot_waterfall(pd.read_csv(snakemake.input.analysis), snakemake.params.outcome, snakemake.params.config,
               snakemake.output.waterfall)
