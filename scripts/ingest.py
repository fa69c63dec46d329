"""Rule ingest: read and check the trial data, write the tidy analysis table."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.data import load_trial

analysis = load_trial(snakemake.params.config)
analysis.to_csv(snakemake.output.analysis, index=False, lineterminator="\n")
print(f"analysis table: {len(analysis)} rows", file=sys.stderr)
