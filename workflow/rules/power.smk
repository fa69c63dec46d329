# Planning the definitive trial (power.enabled): the primary models' job writes the simulation
# plan from the pilot's MMRM (models.smk: primary_models_planned); simulate in power.shards
# independent jobs (power_shard, scatter), combine (power_gather). Each simulated trial has its own random stream spawned from one seed, so
# the gathered results do not depend on the number of shards. Resources per rule are for
# cluster executors (workflow/profiles/slurm).
from pilottrial.planning.options import shard_resources


rule power_shard:
    wildcard_constraints:
        trial=POWER_TRIALS,
        shard=r"\d+",
    priority: 6
    input:
        library=library("power_shard"),
        plan=rules.primary_models_planned.output.plan,
    output:
        shard=f"{RESULTS}/power/shards/{{shard}}.csv",
    params:
        shard=lambda wildcards: int(wildcards.shard),
        shards=lambda wildcards: POWER[wildcards.trial]["shards"],
    threads: 1
    resources:
        runtime=lambda wildcards: shard_resources(POWER[wildcards.trial], TRIALS[wildcards.trial])["runtime"],
        mem_mb=lambda wildcards: shard_resources(POWER[wildcards.trial], TRIALS[wildcards.trial])["mem_mb"],
        cpus_per_task=1,
    log:
        f"{LOGS}/power_shard_{{shard}}.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/power_shard.py"


rule power_gather:
    wildcard_constraints:
        trial=POWER_TRIALS,
    priority: 10
    input:
        library=library("power_gather"),
        plan=rules.primary_models_planned.output.plan,
        shards=lambda wildcards: [
            f"results/{wildcards.trial}/power/shards/{i}.csv" for i in range(POWER[wildcards.trial]["shards"])
        ],
    output:
        curve=report(
            f"{RESULTS}/power/power_curve.csv",
            caption="../report/power_curve.rst",
            category="Planning",
        ),
        sample_size=report(
            f"{RESULTS}/power/sample_size.csv",
            caption="../report/sample_size.rst",
            category="Planning",
        ),
        figure=report(
            f"{RESULTS}/power/power_curve.png",
            caption="../report/power_curve.rst",
            category="Planning",
        ),
    threads: 1
    resources:
        runtime=10,
        mem_mb=1000,
        cpus_per_task=1,
    log:
        f"{LOGS}/power_gather.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/power_gather.py"
