# The primary models (MMRM and LMM contrasts, models.csv) and the descriptive statistics, in one
# job: each job start costs an interpreter and the scientific imports. When the trial plans its
# definitive trial (power.enabled), the same job writes the simulation plan from the pilot's
# primary MMRM (power/plan.json; the power simulations read it: power.smk).

rule primary_models:
    wildcard_constraints:
        trial=UNPLANNED,
    priority: 8
    input:
        library=library("primary_models"),
        analysis=rules.ingest.output.analysis,
    output:
        contrasts=report(
            f"{RESULTS}/tables/contrasts.csv",
            caption="../report/contrasts.rst",
            category="Primary",
        ),
        models=f"{RESULTS}/tables/models.csv",
        descriptives=report(
            f"{RESULTS}/tables/descriptives.csv",
            caption="../report/descriptives.rst",
            category="Data",
        ),
    params:
        config=trial_config,
    log:
        f"{LOGS}/primary_models.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/primary_models.py"


use rule primary_models as primary_models_planned with:
    wildcard_constraints:
        trial=PLANNED,
    priority: 8
    output:
        contrasts=report(
            f"{RESULTS}/tables/contrasts.csv",
            caption="../report/contrasts.rst",
            category="Primary",
        ),
        models=f"{RESULTS}/tables/models.csv",
        descriptives=report(
            f"{RESULTS}/tables/descriptives.csv",
            caption="../report/descriptives.rst",
            category="Data",
        ),
        plan=f"{RESULTS}/power/plan.json",
    params:
        config=trial_config,
        config_source=config_source,
