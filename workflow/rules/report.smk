rule report:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=LIBRARY,
        data=data_path,
        contrasts=rules.primary_models.output.contrasts,
        descriptives=rules.descriptives.output.descriptives,
        models=rules.primary_models.output.models,
        figures=lambda w: list(figure_paths(w.trial).values()),
    output:
        report=report(
            f"{RESULTS}/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    params:
        config=trial_config,
        config_source=config_source,
        figures=lambda w: figure_paths(w.trial),
    log:
        f"{LOGS}/report.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/report.py"
