"""Simulated trials with a known MMRM, for benchmarks, robustness checks and power."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_trial", "simulate_lmm_trial"]


def simulate_trial(n_subjects: int, n_visits: int = 4, seed: int = 20240611,
                   dropout: float = 0.15) -> pd.DataFrame:
    """A two-arm trial with an unstructured visit covariance and monotone dropout.

    One row per subject x visit (``USUBJID, AVISIT, ARMCD, BASE, Y``); arms PBO/TRT in a
    balanced random order; a subject drops out with probability ``dropout`` at a visit drawn
    uniformly from visits 2..n_visits, and ``Y`` is missing from that visit on (every subject
    has visit 1). Residual covariance: standard deviations rising from 2 to 3.5 and a
    correlation matrix that is not of any simpler structure.
    """
    if n_subjects < 2:
        raise ValueError("need at least two subjects")
    rng = np.random.default_rng(seed)
    visits = [f"VIS{j + 1}" for j in range(n_visits)]
    sd = np.linspace(2.0, 3.5, n_visits)
    lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    corr = 0.45 + 0.4 * 0.6 ** lag + 0.05 * np.sin(np.add.outer(np.arange(n_visits), np.arange(n_visits)))
    corr[np.diag_indices(n_visits)] = 1.0
    cov = corr * np.outer(sd, sd)
    arm = rng.permutation(np.arange(n_subjects) % 2)  # 0 = PBO, 1 = TRT
    base = rng.normal(50.0, 8.0, n_subjects)
    visit_effect = np.linspace(1.0, 4.0, n_visits)
    treat_effect = np.linspace(0.5, 3.0, n_visits)
    mean = (0.3 * (base[:, None] - 50.0) + visit_effect[None, :]
            + arm[:, None] * treat_effect[None, :])
    y = mean + rng.multivariate_normal(np.zeros(n_visits), cov, size=n_subjects)
    drops = rng.random(n_subjects) < dropout
    first_missing = np.where(drops, rng.integers(1, n_visits, n_subjects), n_visits)
    y[np.arange(n_visits)[None, :] >= first_missing[:, None]] = np.nan
    width = len(str(n_subjects))
    frame = pd.DataFrame({
        "USUBJID": np.repeat([f"S{i + 1:0{width}d}" for i in range(n_subjects)], n_visits),
        "AVISIT": pd.Categorical(np.tile(visits, n_subjects), categories=visits),
        "ARMCD": pd.Categorical(np.repeat(np.where(arm == 1, "TRT", "PBO"), n_visits),
                                categories=["PBO", "TRT"]),
        "BASE": np.repeat(base, n_visits),
        "Y": y.ravel(),
    })
    return frame


def simulate_lmm_trial(n: int, seed: int, sd_u: float = 2.0, rho_within: float = 0.0) -> pd.DataFrame:
    """A random-intercept trial: ``n`` participants x 4 visits (VIS1..VIS4), arms PBO/TRT,
    baseline and age covariates, a random intercept of SD ``sd_u`` and residual variance 4 with
    within-participant correlation ``rho_within`` (negative: a participant variance estimated at
    0); 10% of visits 2-4 missing (rows dropped). Used by the LMM tests and benchmark."""
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.arange(n) % 2)
    base, age = rng.normal(50, 8, n), rng.uniform(18, 75, n)
    u = rng.normal(0, sd_u, n) if sd_u > 0 else np.zeros(n)
    residuals = rng.multivariate_normal(np.zeros(4), 4.0 * ((1 - rho_within) * np.eye(4) + rho_within), size=n)
    y = (0.3 * (base[:, None] - 50) + 0.05 * (age[:, None] - 45) + np.linspace(1, 4, 4)
         + arm[:, None] * np.linspace(0.5, 3, 4) + u[:, None] + residuals)
    missing = rng.random((n, 4)) < 0.1
    missing[:, 0] = False
    y[missing] = np.nan
    frame = pd.DataFrame({"participant": np.repeat([f"P{i:05d}" for i in range(n)], 4),
                          "arm": np.repeat(np.where(arm == 1, "TRT", "PBO"), 4),
                          "visit": np.tile([f"VIS{j + 1}" for j in range(4)], n),
                          "baseline": np.repeat(base, 4), "age": np.repeat(age, 4), "y": y.ravel()})
    return frame.dropna().reset_index(drop=True)
