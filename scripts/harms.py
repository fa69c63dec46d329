"""Rule harms: adverse events and dissociation during the infusion."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.common import not_estimable_lines
from pilottrial.analyses.harms import harms_tables, participants_table, read_harms
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
participants = participants_table(read_table(snakemake.input.analysis))
tables = harms_tables(read_harms(trial, participants), participants, trial)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
for name in ("adverse_events", "dissociation"):
    tables[name].to_csv(getattr(snakemake.output, name), **out)
    for line in not_estimable_lines(tables[name], name, keys=("term", "arm", "statistic", "treatment")):
        print(line, file=sys.stderr)
