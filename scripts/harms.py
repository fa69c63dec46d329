"""Rule harms: adverse events and dissociation during the infusion."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.analyses.harms import adverse_event_table, dissociation_table, participants_table, read_harms

config = snakemake.params.config
participants = participants_table(pd.read_csv(snakemake.input.analysis))
harms = read_harms(config, participants)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
adverse_event_table(harms["adverse_events"], participants, config).to_csv(snakemake.output.adverse_events, **out)
dissociation_table(harms["dissociation"], participants, config).to_csv(snakemake.output.dissociation, **out)
