"""Rule missing_data: missingness, multiple imputation (MAR, J2R, CIR, CR), tipping point."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.missing import mi_contrasts, missing_data, tipping_point
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
analysis = read_table(snakemake.input.analysis)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
missing_data(analysis, trial).to_csv(snakemake.output.missing, **out)
mi_contrasts(analysis, trial).to_csv(snakemake.output.imputation, **out)
tipping_point(analysis, trial).to_csv(snakemake.output.tipping, **out)
