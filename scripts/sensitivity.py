"""Rule sensitivity: every sensitivity analysis of the key-visit treatment differences."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.common import not_estimable_lines
from pilottrial.analyses.sensitivity import sensitivity_analyses
from pilottrial.config import Trial
from pilottrial.data.table import read_table


def progress(done):
    print(f"randomization test: {done} draws done", file=sys.stderr, flush=True)


trial = Trial.from_config(snakemake.params.config)
table = sensitivity_analyses(read_table(snakemake.input.analysis), trial, progress=progress)
table.to_csv(snakemake.output.sensitivity, index=False, lineterminator="\n", float_format="%.10g")
for line in not_estimable_lines(table, "sensitivity", keys=("treatment", "outcome", "analysis", "visit")):
    print(line, file=sys.stderr)
