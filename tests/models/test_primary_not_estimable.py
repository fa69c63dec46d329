"""Model failures never stop the primary analysis: a model that cannot be estimated gives rows of
NaN with the reason in models.csv's ``note``, and the other models and outcomes go on."""

import copy
import logging

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT

from pilottrial.config import load_config
from pilottrial.data import read_trial_data
from pilottrial.models import primary
from pilottrial.models.crossover import crossover_contrasts, crossover_models, crossover_table
from pilottrial.models.mmrm import MMRMError
from pilottrial.models.primary import CONTRAST_COLUMNS, MODEL_COLUMNS, primary_contrasts

NUMBERS = ["estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"]


def _rows(table, outcome, model):
    return table[(table.outcome == outcome) & (table.model == model)].reset_index(drop=True)


def test_models_table_has_a_note_column_last_and_the_contract_of_contrasts_is_kept(demo_primary):
    contrasts, models = demo_primary
    assert list(contrasts.columns) == CONTRAST_COLUMNS
    assert list(models.columns) == MODEL_COLUMNS and MODEL_COLUMNS[-1] == "note"
    assert (models["note"] == "").all()  # every demo model converged with the requested structure


def test_outcome_without_post_baseline_data_is_not_estimable(demo_config, demo_analysis, demo_primary):
    analysis = demo_analysis.copy()
    follow_up = (analysis.outcome == "MADRS") & (analysis.visit != "baseline")
    analysis.loc[follow_up, ["score", "change"]] = np.nan
    contrasts, models = primary_contrasts(analysis, demo_config)
    for model in ("mmrm", "lmm"):
        rows = _rows(contrasts, "MADRS", model)
        assert list(rows.visit) == ["24h", "7d", "30d"] and rows[NUMBERS].isna().all().all()
        note = _rows(models, "MADRS", model)["note"].iloc[0]
        assert note == "no post-baseline change from baseline for MADRS: not estimable"
    pd.testing.assert_frame_equal(_rows(contrasts, "CAPS-5", "mmrm"), _rows(demo_primary[0], "CAPS-5", "mmrm"))


@pytest.mark.parametrize("failing, working", [("mmrm", "lmm"), ("lmm", "mmrm")])
def test_one_model_failing_does_not_stop_the_other(failing, working, demo_config, demo_analysis, demo_primary,
                                                   monkeypatch, caplog):
    name = {"mmrm": "fit_outcome_mmrm", "lmm": "fit_outcome_lmm"}[failing]
    real = getattr(primary, name)

    def fail_for_pcl5(analysis, outcome, config):
        if outcome == "PCL-5":
            raise MMRMError("the design is rank deficient (a stand-in failure)")
        return real(analysis, outcome, config)

    monkeypatch.setattr(primary, name, fail_for_pcl5)
    with caplog.at_level(logging.WARNING, logger="pilottrial.models.primary"):
        contrasts, models = primary_contrasts(demo_analysis, demo_config)
    assert _rows(contrasts, "PCL-5", failing)[NUMBERS].isna().all().all()
    assert len(_rows(contrasts, "PCL-5", failing)) == 3
    row = _rows(models, "PCL-5", failing).iloc[0]
    assert row["note"] == "not estimable: the design is rank deficient (a stand-in failure)"
    assert np.isnan(row["neg2_reml_loglik"]) and row["covariance"] == ""
    pd.testing.assert_frame_equal(_rows(contrasts, "PCL-5", working), _rows(demo_primary[0], "PCL-5", working))
    pd.testing.assert_frame_equal(_rows(contrasts, "MADRS", failing), _rows(demo_primary[0], "MADRS", failing))
    assert any(r.exc_info for r in caplog.records), "the traceback goes to the rule's log"


def test_no_structure_of_the_chain_is_estimable(demo_config, demo_analysis, demo_primary):
    """Five participants with complete CAPS-5 data: an unstructured 3 x 3 covariance needs six
    (3 visits + 3 mean parameters per visit) and the chain has nothing else: the MMRM is not
    estimable and says why; the random-intercept LMM still fits."""
    config = copy.deepcopy(demo_config)
    config["analysis"]["covariance"], config["analysis"]["fallback"] = "us", []
    analysis = demo_analysis.copy()
    caps = analysis.outcome == "CAPS-5"
    post = caps & (analysis.visit != "baseline")
    complete = analysis[post].groupby("participant")["change"].count() == 3
    arm = analysis[caps].groupby("participant")["arm"].first()
    kept = list(arm[complete & (arm == "midazolam")].index[:2]) + list(arm[complete & (arm == "ketamine")].index[:3])
    analysis = analysis[~caps | analysis.participant.isin(kept)]
    contrasts, models = primary_contrasts(analysis, config)
    assert _rows(contrasts, "CAPS-5", "mmrm")[NUMBERS].isna().all().all()
    note = _rows(models, "CAPS-5", "mmrm")["note"].iloc[0]
    assert note.startswith("not estimable: the MMRM did not converge with any covariance structure in ['us'] "
                           "(us not tried: an unstructured covariance of 3 visits (6 parameters) needs at least 6 "
                           "participants (3 visits + 3 mean parameters per visit); the data have 5)")
    assert _rows(models, "CAPS-5", "mmrm")["fallback_attempts"].iloc[0] == 1
    assert np.isfinite(_rows(contrasts, "CAPS-5", "lmm")[NUMBERS].to_numpy()).all()
    pd.testing.assert_frame_equal(_rows(contrasts, "PCL-5", "mmrm"), _rows(demo_primary[0], "PCL-5", "mmrm"))


def test_crossover_outcome_that_cannot_be_fitted_is_a_nan_row_with_its_reason():
    config = load_config(REPO_ROOT / "config" / "crossover.yaml")
    table = crossover_table(read_trial_data(config), config)
    broken = table[table["period"].astype(str) == "1"]  # one period: period and treatment not estimable
    contrasts = crossover_contrasts(broken, config)
    models = crossover_models(broken, config)
    assert list(contrasts.columns) == CONTRAST_COLUMNS and contrasts[NUMBERS].isna().all().all()
    assert models["note"].iloc[0].startswith("not estimable: ")
    assert crossover_models(table, config)["note"].tolist() == [""]


def test_crossover_with_a_participant_variance_at_zero_is_a_noted_singular_fit():
    """Changes negatively correlated within participant: the participant variance is estimated
    at 0 (lme4's singular fit). The crossover LMM used to raise here; it is now kept, with
    Satterthwaite df holding that variance at 0 (the residual df, as lmerTest) and a note."""
    config = load_config(REPO_ROOT / "config" / "crossover.yaml")
    table = crossover_table(read_trial_data(config), config)
    rng = np.random.default_rng(3)
    table = table.copy()
    first = table["period"] == 1
    shared = rng.normal(0, 6, first.sum())
    table.loc[first, "change"] = shared + rng.normal(0, 2, first.sum())
    table.loc[~first, "change"] = -shared + rng.normal(0, 2, (~first).sum()) - 8 * (table.loc[~first, "treatment"]
                                                                                  == "ketamine")
    models = crossover_models(table, config, df_method="satterthwaite")
    contrasts = crossover_contrasts(table, config, df_method="satterthwaite")
    assert models["sigma_u2"].iloc[0] == 0.0
    assert models["note"].iloc[0].startswith("singular fit: the participant variance is estimated at 0")
    n, p = models["n_observations"].iloc[0], 5  # intercept, treatment, period, sequence, period baseline
    assert contrasts["df"].iloc[0] == pytest.approx(n - p, rel=1e-5)
    assert np.isfinite(contrasts[NUMBERS].to_numpy()).all()
