rule ingest:
    input:
        library=LIBRARY,
        data=config["data"]["path"],
    output:
        analysis=f"{RESULTS}/data/analysis.csv",
    params:
        config=config,
    log:
        f"{LOGS}/ingest.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/ingest.py"
