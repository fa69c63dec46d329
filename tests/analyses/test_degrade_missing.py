"""Missing-data analyses on trials where multiple imputation or the tipping point cannot be
estimated: rows of NaN whose ``note`` says "not estimable: <reason>", never an exception
(issue 14, item 2). With nobody missing, MI is the complete-data ANCOVA whatever the size.
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_trials import QOL, SYMPTOMS, tiny_trial

from pilottrial.analyses.missing import (
    MI_CONTRAST_COLUMNS,
    TIPPING_COLUMNS,
    ancova_arrays,
    mi_contrasts,
    missing_data,
    pooling,
    tipping_point,
)
from pilottrial.analyses.sensitivity import ancova_complete_case
from pilottrial.models.frame import model_frame
from pilottrial.models.mmrm import MMRMError


@pytest.fixture(scope="module")
def nobody_missing(tmp_path_factory):
    """3 per arm, every symptom score observed, quality of life at baseline only."""
    config, analysis = tiny_trial(tmp_path_factory.mktemp("nobody_missing"), n_per_arm=3)
    return config, analysis, mi_contrasts(analysis, config), tipping_point(analysis, config)


@pytest.fixture(scope="module")
def too_few(tmp_path_factory):
    """3 per arm with missing scores: the imputation model fits, but 6 participants and 6 fixed
    effects leave no degrees of freedom for the covariance draw."""
    config, analysis = tiny_trial(tmp_path_factory.mktemp("too_few"), n_per_arm=3, missing=0.25, seed=1)
    return config, analysis, mi_contrasts(analysis, config), tipping_point(analysis, config)


def test_nobody_missing_gives_the_complete_data_ancova(nobody_missing):
    config, analysis, table, _ = nobody_missing
    symptoms = table[table["outcome"] == SYMPTOMS]
    assert len(symptoms) == 8 and (symptoms["note"] == "").all()
    ancova = ancova_complete_case(model_frame(analysis, SYMPTOMS, config), "placebo", "drug").set_index("visit")
    for row in symptoms.itertuples():
        assert row.estimate == pytest.approx(ancova.loc[row.visit, "estimate"], rel=1e-10)
        assert row.std_error == pytest.approx(ancova.loc[row.visit, "std_error"], rel=1e-10)
        assert row.df == 3 and row.fraction_missing_info == 0


def test_an_outcome_without_follow_up_has_mi_rows_that_say_why(nobody_missing):
    _, _, table, tipping = nobody_missing
    assert list(table.columns) == MI_CONTRAST_COLUMNS + ["note"]
    qol = table[table["outcome"] == QOL]
    assert len(qol) == 8 and qol["estimate"].isna().all() and (qol["imputations"] == 10).all()
    assert (qol["note"] == f"not estimable: {QOL} has no post-baseline score").all()
    qol_tipping = tipping[tipping["outcome"] == QOL]
    assert len(qol_tipping) == 21 and (qol_tipping["visit"] == "v2").all()
    assert qol_tipping["estimate"].isna().all()
    assert (qol_tipping["note"] == f"not estimable: {QOL} has no post-baseline score").all()


def test_tipping_point_when_nobody_is_missing(nobody_missing):
    _, _, _, tipping = nobody_missing
    symptoms = tipping[tipping["outcome"] == SYMPTOMS]
    assert list(tipping.columns) == TIPPING_COLUMNS
    assert symptoms["estimate"].nunique() == 1 and symptoms["tipping_delta"].isna().all()
    assert (symptoms["note"] == "not estimable: no tipping point: no imputed value in the treatment arm at v2, "
                                "so delta has no effect").all()


def test_too_few_participants_for_the_covariance_draw(too_few):
    _, _, table, tipping = too_few
    symptoms = table[table["outcome"] == SYMPTOMS]
    assert symptoms["estimate"].isna().all()
    for method in ("MAR", "J2R", "CIR", "CR"):
        notes = symptoms.loc[symptoms["analysis"] == f"mi_{method.lower()}", "note"]
        assert notes.str.startswith(f"not estimable: imputation under {method} failed (Symptoms: 6 participants "
                                    f"with data and 6 fixed effects leave 0 degrees of freedom").all()
    assert tipping.loc[tipping["outcome"] == SYMPTOMS, "note"].str.startswith(
        "not estimable: imputation under MAR failed (Symptoms: 6 participants").all()


def test_an_imputation_model_that_does_not_fit(tmp_path, monkeypatch):
    config, analysis = tiny_trial(tmp_path, n_per_arm=4, missing=0.3, seed=2)

    def no_fit(*args, **kwargs):
        raise MMRMError("the MMRM did not converge with any covariance structure")

    monkeypatch.setattr(pooling, "fit_imputation_model", no_fit)
    table = mi_contrasts(analysis, config, methods=("mar", "j2r"))
    symptoms = table[table["outcome"] == SYMPTOMS]
    assert list(symptoms["analysis"]) == ["mi_mar", "mi_j2r"] * 2
    assert (symptoms["note"] == "not estimable: the imputation model of Symptoms does not fit (the MMRM did not "
                                "converge with any covariance structure)").all()
    tipping = tipping_point(analysis, config)
    assert tipping.loc[tipping["outcome"] == SYMPTOMS, "note"].str.startswith(
        "not estimable: the imputation model of Symptoms does not fit").all()


def test_an_arm_without_data_at_a_visit_stops_the_reference_based_imputation(tmp_path):
    """J2R, CIR and CR need the reference arm's means at every visit: without reference data at
    the last visit the imputation model is not identified."""
    config, analysis = tiny_trial(tmp_path, n_per_arm=4, empty_arm_at=("placebo", "v2"))
    table = mi_contrasts(analysis, config)
    symptoms = table[table["outcome"] == SYMPTOMS]
    assert symptoms["estimate"].isna().all()
    assert symptoms["note"].str.startswith("not estimable: the imputation model of Symptoms does not fit").all()


def test_the_ancova_of_completed_data_needs_residual_degrees_of_freedom():
    with pytest.raises(ValueError, match="3 participants leave no residual degrees of freedom"):
        ancova_arrays(np.zeros((2, 3)), np.array([30.0, 31.0, 35.0]), np.array([False, True, True]))


def test_missingness_tables_of_an_outcome_without_follow_up(nobody_missing):
    config, analysis, _, _ = nobody_missing
    table = missing_data(analysis, config)
    dropout = table[(table["table"] == "dropout") & (table["outcome"] == QOL)]
    assert list(dropout["visit"]) == ["baseline", "baseline"]
    assert list(dropout["n_last_observed"]) == [3, 3]
    missingness = table[(table["table"] == "missingness") & (table["outcome"] == QOL)]
    assert list(missingness["visit"]) == ["baseline", "baseline"]
