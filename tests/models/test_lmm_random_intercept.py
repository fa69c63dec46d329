"""The random-intercept LMM by profiled REML (sigma_u^2 >= 0) against lme4/lmerTest, OLS and the engine.

Reference: tests/models/lmm_lme4.R -- lme4::lmer (bobyqa, tight tolerances) and
lmerTest::contest1D (Satterthwaite df) on the same simulated data, run live when R is present
(required under CI=true). Tolerances: estimates and SEs 1e-6 relative, df 1e-5 relative (our
forward-difference Hessian), variance components 1e-5 relative, -2 REML log-likelihood 1e-6
absolute. Worst seen: estimate 5e-10, SE 6e-8, df 5e-7, components 3e-7 (10,000 participants).
"""

import subprocess
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from conftest import REPO_ROOT, require_r

from pilottrial.models.lmm import fit_lmm
from pilottrial.models.mmrm import MMRMError, fit_mmrm
from pilottrial.models.mmrm.random_intercept import SINGULAR_NOTE
from pilottrial.models.mmrm.simulate import simulate_lmm_trial

R_SCRIPT = REPO_ROOT / "tests" / "models" / "lmm_lme4.R"
FORMULA = "y ~ baseline + age + arm * visit"
RTOL_ESTIMATE = RTOL_SE = 1e-6
RTOL_DF = RTOL_VARIANCE = 1e-5



def _categorical(frame):
    frame = frame.copy()
    frame["arm"] = pd.Categorical(frame["arm"], ["PBO", "TRT"])
    frame["visit"] = pd.Categorical(frame["visit"], [f"VIS{j + 1}" for j in range(4)])
    return frame


def _fit(frame):
    return fit_lmm(_categorical(frame), FORMULA, subject="participant", visit="visit")


TRIALS = {  # name: (participants, seed, sd_u, rho_within)
    "10 participants": (10, 1, 2.0, 0.0),
    "200 participants": (200, 2, 2.0, 0.0),
    "10,000 participants": (10_000, 4, 2.0, 0.0),
    "singular, 40 participants": (40, 3, 0.0, -0.3),
}


@pytest.mark.r
@pytest.mark.parametrize("name", list(TRIALS))
def test_lmm_matches_lme4_lmertest(name, tmp_path):
    rscript = require_r("lme4", "lmerTest")
    frame = simulate_lmm_trial(*TRIALS[name])
    frame.to_csv(tmp_path / "trial.csv", index=False)
    run = subprocess.run([rscript, str(R_SCRIPT), str(tmp_path / "trial.csv"), str(tmp_path / "r.csv")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    reference = pd.read_csv(tmp_path / "r.csv")
    fit = _fit(frame)
    merged = fit.treatment_contrasts("arm", "PBO", "TRT").merge(reference, on="visit", suffixes=("", "_r"))
    assert len(merged) == 4

    def worst(column):
        return float((merged[column] - merged[f"{column}_r"]).abs().div(merged[f"{column}_r"].abs()).max())

    assert worst("estimate") < RTOL_ESTIMATE
    assert worst("std_error") < RTOL_SE
    assert worst("df") < RTOL_DF
    assert fit.neg2_loglik == pytest.approx(reference["neg2_reml_loglik"].iloc[0], abs=1e-6)
    assert fit.phi[1] == pytest.approx(reference["sigma2"].iloc[0], rel=RTOL_VARIANCE)
    assert fit.phi[0] == pytest.approx(reference["sigma_u2"].iloc[0], rel=RTOL_VARIANCE, abs=1e-10)
    assert fit.singular == bool(reference["singular"].iloc[0])
    print(name, {c: worst(c) for c in ("estimate", "std_error", "df")})


def test_fits_the_1000_participant_trial_on_which_statsmodels_raises():
    """statsmodels MixedLM (the previous fitter) raises LinAlgError on this simulated trial
    (1,000 participants, age covariate); the profiled REML fit equals the engine's CS MMRM,
    whose covariance is >= 0 here."""
    frame = _categorical(simulate_lmm_trial(1000, seed=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(np.linalg.LinAlgError):
            smf.mixedlm(FORMULA, frame, groups=frame["participant"]).fit(reml=True, method=["lbfgs", "bfgs", "powell"])
    fit = fit_lmm(frame, FORMULA, subject="participant", visit="visit")
    cs = fit_mmrm(frame, FORMULA, subject="participant", visit="visit", covariance="cs")
    assert cs.phi[0] > 0 and not fit.singular
    np.testing.assert_allclose(fit.phi, cs.phi, rtol=1e-5)
    assert fit.neg2_loglik == pytest.approx(cs.neg2_loglik, abs=1e-7)  # ours is the exact optimum
    assert fit.neg2_loglik <= cs.neg2_loglik + 1e-9


def test_10000_participants_fit_in_well_under_2_seconds():
    frame = _categorical(simulate_lmm_trial(10_000, seed=4))
    started = time.perf_counter()
    fit = fit_lmm(frame, FORMULA, subject="participant", visit="visit")
    contrasts = fit.treatment_contrasts("arm", "PBO", "TRT")
    seconds = time.perf_counter() - started
    print(f"10,000 participants x 4 visits: LMM and contrasts in {seconds:.2f} s")
    assert np.isfinite(contrasts[["estimate", "std_error", "df"]].to_numpy()).all()
    assert seconds < 2.0


def test_singular_fit_is_ordinary_least_squares_with_residual_df():
    """Participant variance at the boundary (sigma_u^2 = 0): the LMM is the independence model,
    so estimates and SEs are OLS's and the Satterthwaite df, with sigma_u^2 held at 0, are the
    residual df n - p (as lmerTest); the fit is flagged and noted, not an error."""
    frame = _categorical(simulate_lmm_trial(40, seed=3, sd_u=0.0, rho_within=-0.3))
    fit = _fit(frame)
    assert fit.singular and fit.boundary == (0,) and fit.phi[0] == 0.0
    assert fit.notes == [SINGULAR_NOTE]
    X = fit.design(fit.model_frame)
    y = fit.model_frame["y"].to_numpy()
    beta, rss = np.linalg.lstsq(X, y, rcond=None)[:2]
    n, p = X.shape
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-9)
    assert fit.phi[1] == pytest.approx(float(rss[0]) / (n - p), rel=1e-10)
    ols_se = np.sqrt(np.diag(np.linalg.inv(X.T @ X)) * float(rss[0]) / (n - p))
    np.testing.assert_allclose(fit.coefficients["std_error"], ols_se, rtol=1e-9)
    np.testing.assert_allclose(fit.coefficients["df"], n - p, rtol=1e-5)


def test_interior_fit_is_a_stationary_point_of_the_cs_likelihood():
    frame = _categorical(simulate_lmm_trial(200, seed=2))
    fit = _fit(frame)
    assert not fit.singular and fit.notes == [] and fit.converged
    assert fit.optimizer == "profile REML"
    gradient_free_fit = fit_mmrm(frame, FORMULA, subject="participant", visit="visit", covariance="cs")
    assert fit.neg2_loglik <= gradient_free_fit.neg2_loglik + 1e-9


def test_one_observation_per_participant_is_a_clear_error():
    frame = _categorical(simulate_lmm_trial(30, seed=5)).groupby("participant").head(1)
    frame = frame.assign(visit=pd.Categorical(np.where(np.arange(len(frame)) % 2, "VIS2", "VIS1"),
                                              ["VIS1", "VIS2"]))
    with pytest.raises(MMRMError, match="CAPS: every participant has one observation"):
        fit_lmm(frame, "y ~ baseline + arm", subject="participant", visit="visit", label="CAPS")
