"""Small trials with many visits: identifiability checks before each covariance structure, a
budget per structure, the reasons recorded, and progress logged for long fits.

Before these checks, an unstructured MMRM of 12 participants x 10 post-baseline visits ran for
5.5 minutes (nlme::BodyWeight diets 1 and 2) in optimiser fallbacks before failing; R's
nlme::gls with an unstructured covariance fails on it too ("function evaluation limit reached").
"""

import logging
import time

import numpy as np
import pandas as pd
import pytest

from pilottrial.models.mmrm import MMRMError, fit_mmrm, identifiability_problem
from pilottrial.models.mmrm import fit as fit_module
from pilottrial.models.mmrm import optimise as optimise_module
from pilottrial.models.mmrm.simulate import simulate_trial

FORMULA = "change ~ baseline + arm * visit"
CHAIN = dict(covariance="us", fallback=["toeph", "ar1", "cs"])


def small_trial_many_visits(n_per_arm: int = 6, n_visits: int = 10, seed: int = 11) -> pd.DataFrame:
    """``2 * n_per_arm`` participants x ``n_visits`` post-baseline visits, AR(1)-like residuals
    plus a participant effect, 10% of visits missing (as a rat growth or weekly-diary trial)."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    visits = [f"week {k + 1:02d}" for k in range(n_visits)]
    lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    cov = 16.0 * 0.7 ** lag + 9.0
    arm = np.repeat(["sham", "active"], n_per_arm)
    baseline = rng.normal(40, 6, n)
    change = (-0.2 * (baseline[:, None] - 40) - np.linspace(1, 6, n_visits) * (arm == "active")[:, None]
              + rng.multivariate_normal(np.zeros(n_visits), cov, size=n))
    change[rng.random(change.shape) < 0.1] = np.nan
    frame = pd.DataFrame({"participant": np.repeat([f"R{i:02d}" for i in range(n)], n_visits),
                          "arm": pd.Categorical(np.repeat(arm, n_visits), ["sham", "active"]),
                          "visit": pd.Categorical(np.tile(visits, n), visits),
                          "baseline": np.repeat(baseline, n_visits), "change": change.ravel()})
    return frame.dropna().reset_index(drop=True)


def test_unestimable_unstructured_is_skipped_and_the_chain_finishes_in_seconds():
    frame = small_trial_many_visits()
    started = time.perf_counter()
    fit = fit_mmrm(frame, FORMULA, subject="participant", visit="visit", **CHAIN)
    seconds = time.perf_counter() - started
    print(f"12 participants x 10 visits: {fit.structure} after {seconds:.2f} s; {fit.notes}")
    assert seconds < 10
    assert fit.structure in ("toeph", "ar1", "cs")
    first = fit.attempts[0]
    assert first["structure"] == "us" and first["status"] == "skipped" and first["optimizer"] is None
    assert "needs at least 13 participants (10 visits + 3 mean parameters per visit); the data have 12" \
        in first["message"]
    assert fit.notes[0].startswith("us not tried: an unstructured covariance of 10 visits (55 parameters)")
    assert fit.notes[-1] == f"{fit.structure} used"


def test_every_structure_unestimable_is_an_error_that_says_why():
    frame = small_trial_many_visits()
    started = time.perf_counter()
    with pytest.raises(MMRMError, match=r"us not tried: an unstructured covariance .* the data have 12\)"):
        fit_mmrm(frame, FORMULA, subject="participant", visit="visit", covariance="us")
    assert time.perf_counter() - started < 5


def test_first_structure_converging_leaves_no_notes():
    data = simulate_trial(80, seed=1)
    fit = fit_mmrm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", **CHAIN)
    assert fit.structure == "us" and fit.attempts == [] and fit.notes == []


def test_budget_of_evaluations_stops_a_structure_and_the_chain_goes_on():
    """The unstructured fit converges after 17 likelihood evaluations here, the CS fit after 9;
    with a budget of 12 per structure the first is stopped and recorded, and the second fits."""
    data = simulate_trial(80, seed=1, dropout=0.5)
    fit = fit_mmrm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", covariance="us",
                   fallback=["cs"], max_evaluations=12)
    assert fit.structure == "cs"
    stopped = [a for a in fit.attempts if a.get("status") == "stopped"]
    assert [a["structure"] for a in stopped] == ["us"]
    assert stopped[0]["message"].startswith("stopped after 12 likelihood evaluations")
    assert fit.notes == [f"us {stopped[0]['message']}", "cs used"]
    unlimited = fit_mmrm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", covariance="us",
                         fallback=["cs"], max_evaluations=None)
    assert unlimited.structure == "us"


def test_budget_of_seconds_stops_a_structure():
    data = simulate_trial(80, seed=1)
    with pytest.raises(MMRMError, match=r"us stopped after 0 s .*without converging"):
        fit_mmrm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", covariance="us",
                 max_seconds=0.0)


def test_a_long_fit_logs_its_progress(monkeypatch, caplog):
    monkeypatch.setattr(optimise_module, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(optimise_module, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(fit_module, "PROGRESS_AFTER", 0.0)
    data = simulate_trial(80, seed=1)
    with caplog.at_level(logging.INFO, logger="pilottrial.models.mmrm"):
        fit_mmrm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", label="FEV1")
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("FEV1 MMRM, us covariance: still fitting (scoring)") for m in messages)
    assert any(m.startswith("FEV1 MMRM: us covariance converged after") for m in messages)


def _codes(frame):
    subject = pd.factorize(frame["participant"], sort=True)[0]
    visit = frame["visit"].cat.codes.to_numpy().astype(np.int64)
    return subject, visit, np.zeros(len(frame), dtype=np.int64)


def _design(frame):
    from formulaic import model_matrix
    return np.asarray(model_matrix("arm * visit", frame), dtype=float)


def test_pairs_of_visits_never_observed_together():
    """Half the participants are seen at visits 1-2, the other half at 3-4: the covariances
    between the halves have no data (unstructured), nor have lags 2 and 3 (Toeplitz) or visits
    2 and 3 (ante-dependence); AR(1)'s one correlation is estimable."""
    rows = []
    for i in range(40):
        for v in ((0, 1) if i % 2 else (2, 3)):
            rows.append({"participant": f"P{i}", "arm": "AB"[(i // 2) % 2], "visit": f"V{v + 1}"})
    frame = pd.DataFrame(rows)
    frame["visit"] = pd.Categorical(frame["visit"], ["V1", "V2", "V3", "V4"])
    X = _design(frame)
    subject, visit, group = _codes(frame)
    levels = ["V1", "V2", "V3", "V4"]
    problem = identifiability_problem("us", 10, X, subject, visit, group, levels, [None])
    assert problem == ("visits V1 and V3, V1 and V4, V2 and V3 and 1 more are never observed in the same "
                       "participant: their covariance cannot be estimated")
    assert "2 apart" in identifiability_problem("toep", 4, X, subject, visit, group, levels, [None])
    assert "V2 and V3" in identifiability_problem("ad", 4, X, subject, visit, group, levels, [None])
    assert identifiability_problem("ar1", 2, X, subject, visit, group, levels, [None]) is None


def test_more_parameters_than_residual_degrees_of_freedom():
    frame = pd.DataFrame({"participant": np.repeat(["A", "B", "C"], 3),
                          "arm": np.repeat(["x", "y", "x"], 3),
                          "visit": pd.Categorical(np.tile(["V1", "V2", "V3"], 3), ["V1", "V2", "V3"])})
    X = _design(frame)
    subject, visit, group = _codes(frame)
    problem = identifiability_problem("toeph", 5, X, subject, visit, group, ["V1", "V2", "V3"], [None])
    assert problem == "5 covariance parameters exceed the 3 residual degrees of freedom (9 observations - 6 fixed effects)"
