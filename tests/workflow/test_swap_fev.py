"""Proof of swapping: the pipeline, by config alone, on ../shared/reference/fev/fev_data.csv
(raw FEV1, arms PBO/TRT, visits VIS1-VIS4, covariates RACE and SEX, unstructured covariance)
reproduces SAS PROC MIXED's LS-mean differences TRT - PBO (sas/sas_log_reml.txt)."""

import pandas as pd
import pytest
import sas_listing
import yaml
from project import copy_project, snakemake

pytestmark = pytest.mark.e2e

# SAS prints estimates and SEs with 4 decimals and df as integers; SAS stopped iterating just
# short of the optimum (see tests/models/test_mmrm_sas.py), so estimates/SE agree to ~1e-4 relative.
RTOL = 1e-3
DF_ATOL = 0.5 + 1e-9


def test_fev_by_config_reproduces_sas_lsmean_differences(tmp_path, reference_dir):
    workdir = copy_project(tmp_path)
    config = {
        "trial": {"name": "fev", "title": "FEV1 benchmark trial (mmrm package data)"},
        "data": {"path": str(reference_dir / "fev" / "fev_data.csv"), "drop_columns": ["WEIGHT"]},
        "columns": {"participant": "USUBJID", "arm": "ARMCD", "visit": "AVISIT"},
        "arms": {"reference": "PBO", "treatment": "TRT"},
        "visits": {"order": ["VIS1", "VIS2", "VIS3", "VIS4"]},
        "outcomes": [{"name": "FEV1", "column": "FEV1", "range": [0, None], "better": "higher"}],
        "analysis": {"response": "raw", "covariates": ["RACE", "SEX"], "covariance": "us",
                     "df_method": "satterthwaite"},
    }
    (workdir / "fev.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", "fev.yaml")
    ours = pd.read_csv(workdir / "results/fev/tables/contrasts.csv").query("model == 'mmrm'").set_index("visit")
    text = (reference_dir / "fev" / "sas" / "sas_log_reml.txt").read_text()
    sas = sas_listing.lsmean_differences(text)
    sas = sas[(sas.ARMCD == "TRT") & (sas._ARMCD == "PBO") & (sas.AVISIT == sas._AVISIT)].set_index("AVISIT")
    assert sorted(sas.index) == ["VIS1", "VIS2", "VIS3", "VIS4"]
    for visit, row in sas.iterrows():
        got = ours.loc[visit]
        assert got.estimate == pytest.approx(row.estimate, rel=RTOL), visit
        assert got.std_error == pytest.approx(row.std_error, rel=RTOL), visit
        assert abs(got.df - row.df) <= DF_ATOL, (visit, got.df, row.df)
        assert got.ci_lower == pytest.approx(row.ci_lower, rel=RTOL, abs=1e-3), visit
    report = (workdir / "results/fev/report.html").read_text()
    assert "score ~ arm × visit + RACE + SEX" in report
