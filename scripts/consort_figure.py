"""Rule consort_figure: the CONSORT flow diagram from the data and the screening log."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.analyses.feasibility import read_screening_log
from pilottrial.report.figures.trial import plot_consort

config = snakemake.params.config
plot_consort(pd.read_csv(snakemake.input.analysis), config, read_screening_log(config), snakemake.output.consort)
