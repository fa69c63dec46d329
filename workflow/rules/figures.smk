rule figures:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=LIBRARY,
        analysis=rules.ingest.output.analysis,
    output:
        mean_change=report(
            f"{RESULTS}/figures/{{outcome}}_mean_change.png",
            caption="../report/mean_change.rst",
            category="Figures",
            labels={"outcome": "{outcome}", "figure": "mean change"},
        ),
        trajectories=report(
            f"{RESULTS}/figures/{{outcome}}_trajectories.png",
            caption="../report/trajectories.rst",
            category="Figures",
            labels={"outcome": "{outcome}", "figure": "trajectories"},
        ),
    params:
        config=trial_config,
        outcome=outcome_name,
    log:
        f"{LOGS}/figures_{{outcome}}.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/figures.py"
