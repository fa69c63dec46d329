"""Rule descriptives: scores by outcome x arm x visit."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.models.primary import descriptives

analysis = pd.read_csv(snakemake.input.analysis)
descriptives(analysis, snakemake.params.config).to_csv(snakemake.output.descriptives, index=False,
                                                         lineterminator="\n", float_format="%.10g")
