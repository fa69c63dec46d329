"""Rule trial_figures: forest plot, responders, tipping-point map, Table 1.

A figure that cannot be drawn for this trial is replaced by a figure saying so (the traceback in
the log), and a Table 1 that cannot be made by an empty one (the report then shows the baseline
scores by arm): the report is written all the same."""
import sys
import traceback

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from pilottrial.data import read_trial_data
from pilottrial.data.table import read_table
from pilottrial.errors import InputError
from pilottrial.report.figures.baseline_table import table_one
from pilottrial.report.figures.forest import plot_forest
from pilottrial.report.figures.layout import draw_or_placeholder
from pilottrial.report.figures.missing import plot_tipping
from pilottrial.report.figures.responders import plot_responders

config = snakemake.params.config
analysis = read_table(snakemake.input.analysis)
draw_or_placeholder(lambda: plot_forest(read_table(snakemake.input.contrasts), config, snakemake.output.forest,
                                        multiplicity=read_table(snakemake.input.multiplicity),
                                        effect_sizes=read_table(snakemake.input.effect_sizes)),
                    snakemake.output.forest, "Treatment differences at the key visits")
draw_or_placeholder(lambda: plot_responders(read_table(snakemake.input.responders), config,
                                            snakemake.output.responders),
                    snakemake.output.responders, "Responders by arm")
draw_or_placeholder(lambda: plot_tipping(read_table(snakemake.input.tipping), config, snakemake.output.tipping),
                    snakemake.output.tipping, "Tipping-point analysis")
try:
    table = table_one(analysis, read_trial_data(config), config)
except InputError:
    raise
except Exception:  # noqa: BLE001 -- Table 1 that cannot be made must not cost the report
    traceback.print_exc(file=sys.stderr)
    table = pd.DataFrame(columns=["variable", "level", "statistic", "overall", "smd"])
table.to_csv(snakemake.output.table_one, index=False, lineterminator="\n", float_format="%.10g")
