"""Rule sensitivity: every sensitivity analysis of the key-visit treatment differences, and the
missing data: missingness, multiple imputation (MAR, J2R, CIR, CR), tipping point."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.common import not_estimable_lines
from pilottrial.analyses.missing import mi_contrasts, missing_data, tipping_point
from pilottrial.analyses.sensitivity import sensitivity_analyses
from pilottrial.config import Trial
from pilottrial.data.table import read_table


def progress(done):
    print(f"randomization test: {done} draws done", file=sys.stderr, flush=True)


def log(line):
    print(line, file=sys.stderr, flush=True)


trial = Trial.from_config(snakemake.params.config)
analysis = read_table(snakemake.input.analysis)
table = sensitivity_analyses(analysis, trial, progress=progress)
table.to_csv(snakemake.output.sensitivity, index=False, lineterminator="\n", float_format="%.10g")
for line in not_estimable_lines(table, "sensitivity", keys=("treatment", "outcome", "analysis", "visit")):
    print(line, file=sys.stderr)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
missing_data(analysis, trial).to_csv(snakemake.output.missing, **out)
imputation = mi_contrasts(analysis, trial, log=log)
imputation.to_csv(snakemake.output.imputation, **out)
tipping = tipping_point(analysis, trial)
tipping.to_csv(snakemake.output.tipping, **out)
by_arm = ["treatment"] if "treatment" in tipping.columns else []  # three or more arms: per comparison
for line in (not_estimable_lines(imputation, "multiple_imputation", keys=("outcome", "visit", "analysis", "treatment"))
             + not_estimable_lines(tipping.drop_duplicates(["outcome", "note"] + by_arm), "tipping_point",
                                   keys=("outcome", "visit", "treatment"))):
    log(line)
