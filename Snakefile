# pilottrial: a randomized pilot trial's data in, validated statistics, figures and a report out.
# The trial is described by a config file: config/config.yaml (the demo) unless --configfile
# names another, which then replaces it entirely (see workflow/rules/common.smk).
from snakemake.utils import min_version

min_version("8.0")


include: "workflow/rules/common.smk"


if CROSSOVER:

    include: "workflow/rules/crossover.smk"

else:

    include: "workflow/rules/ingest.smk"
    include: "workflow/rules/models.smk"
    include: "workflow/rules/figures.smk"
    include: "workflow/rules/analyses.smk"
    include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        final_outputs(),
    default_target: True
