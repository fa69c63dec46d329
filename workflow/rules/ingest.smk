rule ingest:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=library("ingest"),
        data=data_path,
    output:
        analysis=f"{RESULTS}/data/analysis.csv",
    params:
        config=trial_config,
    log:
        f"{LOGS}/ingest.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/ingest.py"
