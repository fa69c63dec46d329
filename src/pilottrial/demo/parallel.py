"""Synthetic demo trial: ketamine vs midazolam for chronic PTSD.

This module generates the bundled demo data set in ``data/demo/``: the trial
data ``ketamine_ptsd_demo.csv`` and the companion files ``adverse_events.csv``,
``dissociation.csv`` and ``screening_log.csv``. The data are **synthetic**: no real
participant is represented. The design is modelled on a published
27-participant randomized pilot trial of a single intravenous infusion of
ketamine (0.5 mg/kg over 40 min, n = 14) against the active placebo
midazolam (0.045 mg/kg, n = 13) in chronic posttraumatic stress disorder,
but every number is drawn from the model documented below and in
``data/demo/README.md``.

Model
-----
For participant *i* in arm *a* (``ketamine`` = 1, ``midazolam`` = 0),
outcome *o* and post-baseline visit *v* (24h, 7d, 30d):

* Baseline scores ``B[i, o]`` are multivariate normal with means
  ``BASELINE_MEAN``, standard deviations ``BASELINE_SD`` and correlations
  ``BASELINE_CORR``; they are rounded to integers and clipped to the
  outcome range.
* The change from baseline is ::

      C[i, o, v] = REFERENCE_CHANGE[o][v]
                   + a * TRUE_EFFECT[o][v]
                   + BASELINE_SLOPE * (B[i, o] - BASELINE_MEAN[o])
                   + E[i, o, v]

  where the nine residuals ``E[i, ., .]`` are jointly normal with mean 0 and
  covariance ``D (OUTCOME_CORR kron VISIT_CORR) D``, ``D`` being the diagonal
  matrix of ``CHANGE_SD``. The visit correlation is unstructured
  (0.60, 0.45, 0.65) and the outcome correlation makes the PCL-5 and MADRS
  changes move with the CAPS-5 change.
* The post-baseline score is ``clip(round(B + C), lo, hi)``.
* Dropout is monotone and completely at random (independent of arm and
  scores): exactly ``round(DROPOUT_FRACTION * N)`` participants (3 of 27),
  drawn at random without replacement, drop out; each one's first missing
  visit is 24h, 7d or 30d with probabilities ``DROPOUT_VISIT_PROBS``
  (0.2, 0.3, 0.5). From that visit on all three scores are missing; the
  rows are kept.

* Mechanism (fMRI) outcomes ``amygdala_reactivity`` and
  ``hippocampus_reactivity`` (percent BOLD signal change, trauma scripts
  minus neutral scripts) are measured at baseline and 30d only. Baselines
  are bivariate normal (``MECHANISM_BASELINE_MEAN``, ``MECHANISM_BASELINE_SD``,
  correlation ``MECHANISM_BASELINE_CORR``). The 30d change of region *m* is ::

      M[i, m] = MECHANISM_REFERENCE_CHANGE[m] + a * MECHANISM_EFFECT[m]
                + MECHANISM_CHANGE_SD[m] * (rho_m * Z[i] + sqrt(1 - rho_m**2) * U[i, m])

  where ``Z[i]`` is participant *i*'s CAPS-5 30d change (before rounding and
  clipping) minus its arm's true mean, divided by its SD
  ``sqrt(CHANGE_SD**2 + BASELINE_SLOPE**2 * BASELINE_SD**2)`` (CAPS-5, 30d),
  ``rho_m = MECHANISM_CAPS5_CORR[m]`` (0.5 amygdala, 0.2 hippocampus) and
  ``(U[i, amygdala], U[i, hippocampus])`` are standard bivariate normal with
  correlation ``MECHANISM_RESIDUAL_CORR``. Within each arm the correlation of
  the mechanism change with the CAPS-5 change is therefore ``rho_m``. Values
  are rounded to 3 decimals; the 30d value is missing for every dropout.
* Adverse events during or after the infusion: each participant has each
  term of ``AE_TERMS`` independently with the arm's probability in
  ``AE_PROBABILITY``; one row per participant x term experienced.
* Dissociation (CADSS total at 40 minutes) is negative binomial with the arm's
  mean ``CADSS_MEAN`` and dispersion ``CADSS_DISPERSION`` (variance
  ``mu + mu**2 / k``), clipped to 0-92.
* Screening log: ``round(N * 58/27)`` people screened, ``round(N * 34/27)``
  eligible, the N randomized among the eligible, over ``SCREENING_MONTHS``
  months from ``SCREENING_START``; reasons for not being randomized are drawn
  from ``INELIGIBLE_REASONS`` and ``NOT_RANDOMIZED_REASONS``.

Because of rounding and clipping to the score ranges, the expected means can
differ slightly from the nominal ones (by less than 0.1 point in simulations
with 10,000 participants per arm; largest for MADRS at 24h in the ketamine
arm, where the lower bound 0 is about two SDs away).

Randomness comes only from ``numpy.random.default_rng`` seeded with children
of ``numpy.random.SeedSequence(seed)``; one child per model component, so the
output is a pure function of ``seed`` and ``n_per_arm``. The clinical scores
use children 0-5 (``SeedSequence(seed).spawn(6)``); the parts added later use
``SeedSequence(seed, spawn_key=(k,))`` with k = 6 (mechanism), 7 (adverse
events), 8 (dissociation) and 9 (screening log), i.e. the next children of
the same root, so adding them left the original columns unchanged.

Examples
--------
Regenerate the four bundled files byte for byte::

    python -m pilottrial.demo.parallel data/demo/

or only the trial data::

    python -m pilottrial.demo.parallel data/demo/ketamine_ptsd_demo.csv
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SEED",
    "ARMS",
    "VISITS",
    "OUTCOMES",
    "OUTCOME_RANGES",
    "BASELINE_MEAN",
    "BASELINE_SD",
    "BASELINE_CORR",
    "REFERENCE_CHANGE",
    "TRUE_EFFECT",
    "CHANGE_SD",
    "VISIT_CORR",
    "OUTCOME_CORR",
    "BASELINE_SLOPE",
    "DROPOUT_FRACTION",
    "DROPOUT_VISIT_PROBS",
    "MECHANISM_OUTCOMES",
    "MECHANISM_VISITS",
    "MECHANISM_BASELINE_MEAN",
    "MECHANISM_BASELINE_SD",
    "MECHANISM_BASELINE_CORR",
    "MECHANISM_REFERENCE_CHANGE",
    "MECHANISM_EFFECT",
    "MECHANISM_CHANGE_SD",
    "MECHANISM_CAPS5_CORR",
    "MECHANISM_RESIDUAL_CORR",
    "AE_TERMS",
    "AE_PROBABILITY",
    "CADSS_RANGE",
    "CADSS_MEAN",
    "CADSS_DISPERSION",
    "SCREENING_START",
    "SCREENING_MONTHS",
    "SCREENED_PER_RANDOMIZED",
    "ELIGIBLE_PER_RANDOMIZED",
    "INELIGIBLE_REASONS",
    "NOT_RANDOMIZED_REASONS",
    "DEMO_FILES",
    "true_effects",
    "true_mechanism_effects",
    "simulate_demo_trial",
    "simulate_adverse_events",
    "simulate_dissociation",
    "simulate_screening_log",
    "simulate_demo",
    "write_demo_trial",
    "write_demo",
    "main",
]

#: Seed of the bundled demo file.
DEFAULT_SEED: int = 20261121

#: Arm labels: (treatment, reference).
ARMS: tuple[str, str] = ("ketamine", "midazolam")
#: Default arm sizes of the demo trial (ketamine, midazolam).
_DEFAULT_ARM_SIZES: tuple[int, int] = (14, 13)

#: Visit labels in chronological order; the first one is baseline.
VISITS: tuple[str, ...] = ("baseline", "24h", "7d", "30d")
_POST_VISITS: tuple[str, ...] = VISITS[1:]

#: Outcome columns (CAPS-5 total is primary; lower is better for all).
OUTCOMES: tuple[str, ...] = ("caps5", "pcl5", "madrs")
#: Inclusive integer range of each outcome.
OUTCOME_RANGES: dict[str, tuple[int, int]] = {
    "caps5": (0, 80),
    "pcl5": (0, 80),
    "madrs": (0, 60),
}

#: Population mean of the baseline scores.
BASELINE_MEAN: dict[str, float] = {"caps5": 40.0, "pcl5": 50.0, "madrs": 26.0}
#: Population SD of the baseline scores.
BASELINE_SD: dict[str, float] = {"caps5": 9.0, "pcl5": 10.0, "madrs": 7.0}
#: Correlation of the baseline scores (order of ``OUTCOMES``).
BASELINE_CORR: np.ndarray = np.array(
    [
        [1.00, 0.60, 0.50],
        [0.60, 1.00, 0.50],
        [0.50, 0.50, 1.00],
    ]
)

#: TRUE mean change from baseline in the reference arm (midazolam).
REFERENCE_CHANGE: dict[str, dict[str, float]] = {
    "caps5": {"24h": -6.0, "7d": -5.0, "30d": -4.0},
    "pcl5": {"24h": -7.0, "7d": -6.0, "30d": -5.0},
    "madrs": {"24h": -3.0, "7d": -2.5, "30d": -2.0},
}
#: TRUE treatment effect: mean change ketamine minus mean change midazolam.
TRUE_EFFECT: dict[str, dict[str, float]] = {
    "caps5": {"24h": -8.0, "7d": -6.0, "30d": -5.0},
    "pcl5": {"24h": -9.0, "7d": -6.0, "30d": -4.0},
    "madrs": {"24h": -6.0, "7d": -4.0, "30d": -3.0},
}
#: Residual SD of the change from baseline at 24h, 7d, 30d.
CHANGE_SD: dict[str, tuple[float, float, float]] = {
    "caps5": (9.0, 10.0, 11.0),
    "pcl5": (10.0, 11.0, 12.0),
    "madrs": (7.0, 7.5, 8.0),
}
#: Correlation of the residual changes across the visits 24h, 7d, 30d
#: (unstructured: corr(24h, 7d) = 0.60, corr(24h, 30d) = 0.45,
#: corr(7d, 30d) = 0.65).
VISIT_CORR: np.ndarray = np.array(
    [
        [1.00, 0.60, 0.45],
        [0.60, 1.00, 0.65],
        [0.45, 0.65, 1.00],
    ]
)
#: Correlation of the residual changes across outcomes (order of ``OUTCOMES``).
OUTCOME_CORR: np.ndarray = np.array(
    [
        [1.00, 0.70, 0.60],
        [0.70, 1.00, 0.55],
        [0.60, 0.55, 1.00],
    ]
)
#: Regression of the change on the centred baseline (regression to the mean).
BASELINE_SLOPE: float = -0.2

#: Fraction of participants who drop out (the count is rounded half up).
DROPOUT_FRACTION: float = 0.10
#: Probability of a dropout's first missing visit: (24h, 7d, 30d).
DROPOUT_VISIT_PROBS: tuple[float, float, float] = (0.2, 0.3, 0.5)

#: fMRI mechanism outcomes (percent BOLD signal change to trauma scripts minus
#: neutral scripts, region of interest). Lower = less reactivity.
MECHANISM_OUTCOMES: tuple[str, ...] = ("amygdala_reactivity", "hippocampus_reactivity")
#: Visits at which the mechanism outcomes are measured (scanning sessions).
MECHANISM_VISITS: tuple[str, str] = ("baseline", "30d")
#: Population mean of the baseline percent signal change.
MECHANISM_BASELINE_MEAN: dict[str, float] = {
    "amygdala_reactivity": 0.45,
    "hippocampus_reactivity": 0.30,
}
#: Population SD of the baseline percent signal change.
MECHANISM_BASELINE_SD: dict[str, float] = {
    "amygdala_reactivity": 0.25,
    "hippocampus_reactivity": 0.20,
}
#: Correlation of the amygdala and hippocampus baselines.
MECHANISM_BASELINE_CORR: float = 0.40
#: TRUE mean change baseline -> 30d in the reference arm (midazolam).
MECHANISM_REFERENCE_CHANGE: dict[str, float] = {
    "amygdala_reactivity": -0.05,
    "hippocampus_reactivity": -0.02,
}
#: TRUE treatment effect on the 30d change (ketamine minus midazolam).
MECHANISM_EFFECT: dict[str, float] = {
    "amygdala_reactivity": -0.15,
    "hippocampus_reactivity": -0.05,
}
#: SD of the 30d change within an arm.
MECHANISM_CHANGE_SD: dict[str, float] = {
    "amygdala_reactivity": 0.20,
    "hippocampus_reactivity": 0.18,
}
#: TRUE within-arm correlation of the 30d change with the CAPS-5 30d change.
MECHANISM_CAPS5_CORR: dict[str, float] = {
    "amygdala_reactivity": 0.50,
    "hippocampus_reactivity": 0.20,
}
#: Correlation of the parts of the two mechanism changes unrelated to CAPS-5.
MECHANISM_RESIDUAL_CORR: float = 0.30
_MECHANISM_DECIMALS = 3

#: Adverse event terms, in the order they are written.
AE_TERMS: tuple[str, ...] = ("drowsiness", "dissociation", "nausea", "dizziness", "headache")
#: TRUE probability that a participant experiences the term, by arm.
AE_PROBABILITY: dict[str, dict[str, float]] = {
    "ketamine": {
        "drowsiness": 0.20,
        "dissociation": 0.50,
        "nausea": 0.25,
        "dizziness": 0.35,
        "headache": 0.20,
    },
    "midazolam": {
        "drowsiness": 0.45,
        "dissociation": 0.08,
        "nausea": 0.08,
        "dizziness": 0.10,
        "headache": 0.15,
    },
}

#: Inclusive range of the CADSS total (23 items scored 0-4).
CADSS_RANGE: tuple[int, int] = (0, 92)
#: TRUE mean CADSS total at 40 minutes, by arm (before clipping).
CADSS_MEAN: dict[str, float] = {"ketamine": 12.0, "midazolam": 2.0}
#: Negative binomial dispersion k (variance = mean + mean**2 / k), by arm.
CADSS_DISPERSION: dict[str, float] = {"ketamine": 1.2, "midazolam": 0.8}

#: First month of screening (YYYY-MM).
SCREENING_START: str = "2023-03"
#: Number of calendar months of screening.
SCREENING_MONTHS: int = 14
#: People screened per participant randomized (58 for 27).
SCREENED_PER_RANDOMIZED: float = 58 / 27
#: People eligible per participant randomized (34 for 27).
ELIGIBLE_PER_RANDOMIZED: float = 34 / 27
#: Reasons for ineligibility and their probabilities.
INELIGIBLE_REASONS: dict[str, float] = {
    "PTSD severity below threshold": 0.30,
    "current substance use disorder": 0.20,
    "psychotic or bipolar disorder": 0.15,
    "exclusionary medication": 0.15,
    "unstable medical condition": 0.10,
    "imminent suicide risk": 0.10,
}
#: Reasons why an eligible person was not randomized and their probabilities.
NOT_RANDOMIZED_REASONS: dict[str, float] = {
    "declined participation": 0.50,
    "unable to attend study visits": 0.30,
    "lost to contact": 0.20,
}

#: File names of the demo data set, written by :func:`write_demo`.
DEMO_FILES: dict[str, str] = {
    "trial": "ketamine_ptsd_demo.csv",
    "adverse_events": "adverse_events.csv",
    "dissociation": "dissociation.csv",
    "screening_log": "screening_log.csv",
}
#: ``SeedSequence(seed, spawn_key=(k,))`` of the components added after the
#: clinical scores (the scores use children 0-5).
_EXTRA_STREAMS: dict[str, int] = {
    "mechanism": 6,
    "adverse_events": 7,
    "dissociation": 8,
    "screening_log": 9,
}

_AGE_MEAN, _AGE_SD, _AGE_RANGE = 38.0, 11.0, (18, 70)
_P_FEMALE = 0.55
_CODE_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_CODE_LENGTH = 4
_CODE_PREFIX = "PT-"
_SCREENING_PREFIX = "SC-"


def true_effects() -> pd.DataFrame:
    """Return the TRUE mean changes of the simulation model as a table.

    Returns
    -------
    pandas.DataFrame
        One row per outcome x post-baseline visit with columns ``outcome``,
        ``visit``, ``change_midazolam`` (true mean change from baseline in the
        reference arm), ``change_ketamine`` and ``effect`` (ketamine minus
        midazolam). Values are before rounding, clipping and dropout.
    """
    rows = [
        {
            "outcome": o,
            "visit": v,
            "change_midazolam": REFERENCE_CHANGE[o][v],
            "change_ketamine": REFERENCE_CHANGE[o][v] + TRUE_EFFECT[o][v],
            "effect": TRUE_EFFECT[o][v],
        }
        for o in OUTCOMES
        for v in _POST_VISITS
    ]
    return pd.DataFrame(rows)


def true_mechanism_effects() -> pd.DataFrame:
    """Return the TRUE values of the mechanism (fMRI) model as a table.

    Returns
    -------
    pandas.DataFrame
        One row per mechanism outcome with columns ``outcome``, ``visit``
        (``30d``), ``baseline_mean``, ``baseline_sd``, ``change_midazolam``,
        ``change_ketamine``, ``effect`` (ketamine minus midazolam),
        ``change_sd`` (within arm) and ``corr_caps5_change`` (within-arm
        correlation of the change with the CAPS-5 change at 30d, before
        rounding and clipping). Values are before rounding and dropout.
    """
    rows = [
        {
            "outcome": m,
            "visit": MECHANISM_VISITS[1],
            "baseline_mean": MECHANISM_BASELINE_MEAN[m],
            "baseline_sd": MECHANISM_BASELINE_SD[m],
            "change_midazolam": MECHANISM_REFERENCE_CHANGE[m],
            "change_ketamine": MECHANISM_REFERENCE_CHANGE[m] + MECHANISM_EFFECT[m],
            "effect": MECHANISM_EFFECT[m],
            "change_sd": MECHANISM_CHANGE_SD[m],
            "corr_caps5_change": MECHANISM_CAPS5_CORR[m],
        }
        for m in MECHANISM_OUTCOMES
    ]
    return pd.DataFrame(rows)


def _participant_codes(
    rng: np.random.Generator, n: int, prefix: str = _CODE_PREFIX
) -> np.ndarray:
    """Draw ``n`` unique opaque codes ``<prefix>XXXX`` (uppercase letters/digits)."""
    base = len(_CODE_ALPHABET)
    if n > base**_CODE_LENGTH:
        raise ValueError(f"cannot draw {n} unique participant codes")
    idx = rng.choice(base**_CODE_LENGTH, size=n, replace=False)
    powers = base ** np.arange(_CODE_LENGTH - 1, -1, -1)
    digits = (idx[:, None] // powers) % base
    chars = _CODE_ALPHABET[digits]
    return np.array([prefix + "".join(row) for row in chars], dtype=object)


def _arm_sizes(n_per_arm: int | None) -> tuple[int, int]:
    if n_per_arm is None:
        return _DEFAULT_ARM_SIZES
    if isinstance(n_per_arm, bool) or not isinstance(n_per_arm, (int, np.integer)):
        raise TypeError("n_per_arm must be an integer or None")
    if n_per_arm < 1:
        raise ValueError("n_per_arm must be at least 1")
    return int(n_per_arm), int(n_per_arm)


def _extra_rng(seed: int, component: str) -> np.random.Generator:
    """Generator of a component added after the scores: ``SeedSequence(seed, spawn_key=(k,))``."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(_EXTRA_STREAMS[component],))
    )


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def _simulate_participants(seed: int, n_per_arm: int | None) -> dict[str, np.ndarray]:
    """Participants, clinical scores and dropout (children 0-5 of the root seed).

    Returns arrays in generation order (not sorted by code): ``codes``,
    ``ketamine`` (bool), ``age``, ``sex``, ``scores`` (n x visits x outcomes,
    NaN after dropout), ``first_missing`` (index of the first missing visit,
    ``len(VISITS)`` = none) and ``caps5_z30`` (standardized within-arm CAPS-5
    change at 30d before rounding, the link to the mechanism outcomes).
    """
    n_ket, n_mid = _arm_sizes(n_per_arm)
    n = n_ket + n_mid
    n_out, n_post = len(OUTCOMES), len(_POST_VISITS)

    ss = np.random.SeedSequence(seed)
    (
        rng_code,
        rng_arm,
        rng_demo,
        rng_base,
        rng_change,
        rng_drop,
    ) = (np.random.default_rng(child) for child in ss.spawn(6))

    # Identifiers and randomized allocation (exactly n_ket / n_mid).
    codes = _participant_codes(rng_code, n)
    ketamine = rng_arm.permutation(np.r_[np.ones(n_ket, bool), np.zeros(n_mid, bool)])

    # Demographics.
    age = np.clip(
        np.rint(rng_demo.normal(_AGE_MEAN, _AGE_SD, size=n)), *_AGE_RANGE
    ).astype(np.int64)
    sex = np.where(rng_demo.random(n) < _P_FEMALE, "F", "M")

    # Baseline scores (n x outcomes).
    lo = np.array([OUTCOME_RANGES[o][0] for o in OUTCOMES], dtype=float)
    hi = np.array([OUTCOME_RANGES[o][1] for o in OUTCOMES], dtype=float)
    mu0 = np.array([BASELINE_MEAN[o] for o in OUTCOMES])
    sd0 = np.array([BASELINE_SD[o] for o in OUTCOMES])
    cov0 = BASELINE_CORR * np.outer(sd0, sd0)
    baseline = np.clip(np.rint(rng_base.multivariate_normal(mu0, cov0, size=n)), lo, hi)

    # Changes from baseline (n x outcomes x post visits).
    sd_c = np.array([CHANGE_SD[o] for o in OUTCOMES]).ravel()  # outcome-major
    cov_c = np.kron(OUTCOME_CORR, VISIT_CORR) * np.outer(sd_c, sd_c)
    resid = rng_change.multivariate_normal(
        np.zeros(n_out * n_post), cov_c, size=n
    ).reshape(n, n_out, n_post)
    ref = np.array([[REFERENCE_CHANGE[o][v] for v in _POST_VISITS] for o in OUTCOMES])
    eff = np.array([[TRUE_EFFECT[o][v] for v in _POST_VISITS] for o in OUTCOMES])
    deviation = BASELINE_SLOPE * (baseline - mu0)[:, :, None] + resid
    change = ref[None, :, :] + ketamine[:, None, None] * eff[None, :, :] + deviation
    post = np.clip(
        np.rint(baseline[:, :, None] + change), lo[None, :, None], hi[None, :, None]
    )

    # Scores array (n x visits x outcomes), then monotone dropout.
    scores = np.concatenate(
        [baseline[:, None, :], np.transpose(post, (0, 2, 1))], axis=1
    )
    n_drop = int(np.floor(DROPOUT_FRACTION * n + 0.5))
    first_missing = np.full(n, len(VISITS))  # len(VISITS) = never missing
    dropouts = rng_drop.choice(n, size=n_drop, replace=False)
    first_missing[dropouts] = rng_drop.choice(
        np.arange(1, len(VISITS)), size=n_drop, p=DROPOUT_VISIT_PROBS
    )
    missing = np.arange(len(VISITS))[None, :] >= first_missing[:, None]
    scores[missing] = np.nan

    # Standardized within-arm CAPS-5 change at 30d (before rounding/clipping).
    j_caps, k_30d = OUTCOMES.index("caps5"), _POST_VISITS.index("30d")
    sd_caps30 = np.hypot(CHANGE_SD["caps5"][k_30d], BASELINE_SLOPE * BASELINE_SD["caps5"])
    caps5_z30 = deviation[:, j_caps, k_30d] / sd_caps30

    return {
        "codes": codes,
        "ketamine": ketamine,
        "age": age,
        "sex": sex,
        "scores": scores,
        "first_missing": first_missing,
        "caps5_z30": caps5_z30,
    }


def _simulate_mechanism(seed: int, core: dict[str, np.ndarray]) -> np.ndarray:
    """Mechanism values, n x visits x mechanism outcomes (NaN where not measured)."""
    rng = _extra_rng(seed, "mechanism")
    n = len(core["codes"])
    mu0 = np.array([MECHANISM_BASELINE_MEAN[m] for m in MECHANISM_OUTCOMES])
    sd0 = np.array([MECHANISM_BASELINE_SD[m] for m in MECHANISM_OUTCOMES])
    corr0 = np.array([[1.0, MECHANISM_BASELINE_CORR], [MECHANISM_BASELINE_CORR, 1.0]])
    baseline = rng.multivariate_normal(mu0, corr0 * np.outer(sd0, sd0), size=n)
    corr_u = np.array([[1.0, MECHANISM_RESIDUAL_CORR], [MECHANISM_RESIDUAL_CORR, 1.0]])
    unrelated = rng.multivariate_normal(np.zeros(2), corr_u, size=n)

    ref = np.array([MECHANISM_REFERENCE_CHANGE[m] for m in MECHANISM_OUTCOMES])
    eff = np.array([MECHANISM_EFFECT[m] for m in MECHANISM_OUTCOMES])
    sd_c = np.array([MECHANISM_CHANGE_SD[m] for m in MECHANISM_OUTCOMES])
    rho = np.array([MECHANISM_CAPS5_CORR[m] for m in MECHANISM_OUTCOMES])
    z = core["caps5_z30"][:, None]
    change = (
        ref[None, :]
        + core["ketamine"][:, None] * eff[None, :]
        + sd_c[None, :] * (rho[None, :] * z + np.sqrt(1.0 - rho**2)[None, :] * unrelated)
    )
    values = np.full((n, len(VISITS), len(MECHANISM_OUTCOMES)), np.nan)
    i_base, i_post = (VISITS.index(v) for v in MECHANISM_VISITS)
    values[:, i_base, :] = baseline
    observed = core["first_missing"] > i_post
    values[observed, i_post, :] = baseline[observed] + change[observed]
    # Round to the written precision; "+ 0.0" turns -0.0 into 0.0.
    return np.round(values, _MECHANISM_DECIMALS) + 0.0


def _by_code(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable sort on the participant code (keeps the within-participant order)."""
    order = np.argsort(frame["participant"].to_numpy(dtype=object), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def _trial_table(core: dict[str, np.ndarray], mechanism: np.ndarray) -> pd.DataFrame:
    codes, ketamine = core["codes"], core["ketamine"]
    n, n_vis, n_out = len(codes), len(VISITS), len(OUTCOMES)
    data: dict[str, object] = {
        "participant": np.repeat(codes, n_vis),
        "arm": np.repeat(np.where(ketamine, ARMS[0], ARMS[1]), n_vis),
        "visit": np.tile(np.array(VISITS, dtype=object), n),
        "age": np.repeat(core["age"], n_vis),
        "sex": np.repeat(core["sex"], n_vis),
    }
    flat = core["scores"].reshape(n * n_vis, n_out)
    for j, o in enumerate(OUTCOMES):
        data[o] = pd.array(flat[:, j], dtype="Int64")  # NaN -> <NA>
    flat_m = mechanism.reshape(n * n_vis, len(MECHANISM_OUTCOMES))
    for j, m in enumerate(MECHANISM_OUTCOMES):
        data[m] = flat_m[:, j].astype("float64")
    df = pd.DataFrame(data)
    for col in ("participant", "arm", "visit", "sex"):
        df[col] = df[col].astype(str)
    # Rows are already in visit order within participant; a stable sort on
    # the (unique) code keeps that order.
    return _by_code(df)


def simulate_demo_trial(
    seed: int = DEFAULT_SEED, n_per_arm: int | None = None
) -> pd.DataFrame:
    """Simulate the synthetic ketamine vs midazolam PTSD pilot trial.

    Parameters
    ----------
    seed : int, default 20261121
        Seed of the ``numpy.random.SeedSequence`` from which all randomness
        is derived. The bundled demo file uses the default.
    n_per_arm : int or None, default None
        Number of participants per arm. ``None`` gives the demo trial's
        14 ketamine and 13 midazolam participants; an integer gives that many
        in each arm (e.g. a large value to check the documented true effects).

    Returns
    -------
    pandas.DataFrame
        Long table with one row per participant x visit and the columns
        ``participant`` (str, ``PT-XXXX``), ``arm`` (str, ``ketamine`` or
        ``midazolam``), ``visit`` (str, ``baseline``, ``24h``, ``7d``,
        ``30d``), ``age`` (int64, years 18-70), ``sex`` (str, ``F``/``M``),
        the integer scores ``caps5`` (0-80), ``pcl5`` (0-80) and
        ``madrs`` (0-60) as nullable ``Int64`` -- after dropout all three
        scores are missing (``<NA>``) -- and the fMRI mechanism outcomes
        ``amygdala_reactivity`` and ``hippocampus_reactivity`` (float64,
        percent BOLD signal change, 3 decimals), present at baseline and 30d
        only (NaN at 24h and 7d, and at 30d after dropout). Rows are sorted
        by participant code, then visit in chronological order.

    Notes
    -----
    The model and the true effects are described in the module docstring
    and in ``data/demo/README.md``. The clinical columns do not depend on the
    mechanism model (they use other random streams).
    """
    core = _simulate_participants(seed, n_per_arm)
    return _trial_table(core, _simulate_mechanism(seed, core))


def _adverse_events(seed: int, core: dict[str, np.ndarray]) -> pd.DataFrame:
    rng = _extra_rng(seed, "adverse_events")
    codes, ketamine = core["codes"], core["ketamine"]
    prob = np.array(
        [[AE_PROBABILITY[ARMS[0] if k else ARMS[1]][t] for t in AE_TERMS] for k in ketamine]
    ).reshape(len(codes), len(AE_TERMS))
    has = rng.random(prob.shape) < prob
    who, which = np.nonzero(has)  # row-major: participant, then term order
    frame = pd.DataFrame(
        {
            "participant": codes[who].astype(str),
            "term": np.array(AE_TERMS, dtype=object)[which].astype(str),
        }
    )
    return _by_code(frame)


def _dissociation(seed: int, core: dict[str, np.ndarray]) -> pd.DataFrame:
    rng = _extra_rng(seed, "dissociation")
    arm = np.where(core["ketamine"], ARMS[0], ARMS[1])
    mean = np.array([CADSS_MEAN[a] for a in arm])
    k = np.array([CADSS_DISPERSION[a] for a in arm])
    draws = rng.negative_binomial(k, k / (k + mean))
    cadss = np.clip(draws, *CADSS_RANGE).astype(np.int64)
    frame = pd.DataFrame({"participant": core["codes"].astype(str), "cadss": cadss})
    return _by_code(frame)


def _month_labels(start: str, n_months: int) -> list[str]:
    year, month = (int(x) for x in start.split("-"))
    first = year * 12 + month - 1
    return [f"{(first + i) // 12:04d}-{(first + i) % 12 + 1:02d}" for i in range(n_months)]


def _screening_log(seed: int, n_randomized: int) -> pd.DataFrame:
    rng = _extra_rng(seed, "screening_log")
    n_eligible = max(_round_half_up(n_randomized * ELIGIBLE_PER_RANDOMIZED), n_randomized)
    n_screened = max(_round_half_up(n_randomized * SCREENED_PER_RANDOMIZED), n_eligible)
    ids = _participant_codes(rng, n_screened, prefix=_SCREENING_PREFIX)
    # 0 = randomized, 1 = eligible not randomized, 2 = ineligible; random order.
    status = rng.permutation(
        np.repeat([0, 1, 2], [n_randomized, n_eligible - n_randomized, n_screened - n_eligible])
    )
    # Every month has at least one person screened (when there are enough people).
    n_fixed = min(SCREENING_MONTHS, n_screened)
    month_idx = np.r_[
        np.arange(n_fixed), rng.integers(0, SCREENING_MONTHS, size=n_screened - n_fixed)
    ]
    reason = np.full(n_screened, "", dtype=object)
    inel = np.flatnonzero(status == 2)
    reason[inel] = rng.choice(
        list(INELIGIBLE_REASONS), size=inel.size, p=list(INELIGIBLE_REASONS.values())
    )
    declined = np.flatnonzero(status == 1)
    reason[declined] = rng.choice(
        list(NOT_RANDOMIZED_REASONS), size=declined.size, p=list(NOT_RANDOMIZED_REASONS.values())
    )
    months = np.array(_month_labels(SCREENING_START, SCREENING_MONTHS), dtype=object)
    frame = pd.DataFrame(
        {
            "screening_id": ids.astype(str),
            "month": months[month_idx].astype(str),
            "eligible": np.where(status <= 1, "yes", "no"),
            "randomized": np.where(status == 0, "yes", "no"),
            "reason": reason.astype(str),
        }
    )
    return frame.sort_values(["month", "screening_id"], kind="stable").reset_index(drop=True)


def simulate_adverse_events(
    seed: int = DEFAULT_SEED, n_per_arm: int | None = None
) -> pd.DataFrame:
    """Simulate the adverse events of the demo trial.

    Parameters
    ----------
    seed, n_per_arm
        As in :func:`simulate_demo_trial` (same participants and arms).

    Returns
    -------
    pandas.DataFrame
        ``participant``, ``term``: one row per participant x term experienced,
        sorted by participant code, then in the order of ``AE_TERMS``.
        Participants without an adverse event have no row.

    Notes
    -----
    Participant *i* in arm *a* has term *t* with probability
    :math:`p_{a,t}` (``AE_PROBABILITY``), independently across terms and
    participants, so the expected share with at least one event is
    :math:`1 - \\prod_t (1 - p_{a,t})` (0.844 ketamine, 0.644 midazolam).
    """
    core = _simulate_participants(seed, n_per_arm)
    return _adverse_events(seed, core)


def simulate_dissociation(
    seed: int = DEFAULT_SEED, n_per_arm: int | None = None
) -> pd.DataFrame:
    """Simulate the CADSS total at 40 minutes for every participant.

    Parameters
    ----------
    seed, n_per_arm
        As in :func:`simulate_demo_trial`.

    Returns
    -------
    pandas.DataFrame
        ``participant``, ``cadss`` (int64, 0-92), one row per participant,
        sorted by code.

    Notes
    -----
    :math:`Y \\sim \\mathrm{NegBin}(k, p = k / (k + \\mu))` with mean
    :math:`\\mu` and variance :math:`\\mu + \\mu^2 / k` (``CADSS_MEAN``,
    ``CADSS_DISPERSION``), clipped to 0-92: right-skewed with many zeros in
    the midazolam arm.
    """
    core = _simulate_participants(seed, n_per_arm)
    return _dissociation(seed, core)


def simulate_screening_log(
    seed: int = DEFAULT_SEED, n_per_arm: int | None = None
) -> pd.DataFrame:
    """Simulate the screening log of the demo trial.

    Parameters
    ----------
    seed, n_per_arm
        As in :func:`simulate_demo_trial`; only the number randomized N
        matters (27 by default).

    Returns
    -------
    pandas.DataFrame
        One row per person screened: ``screening_id`` (opaque ``SC-XXXX``,
        unrelated to the participant codes), ``month`` (``YYYY-MM``; no full
        dates), ``eligible`` and ``randomized`` (``yes``/``no``) and
        ``reason`` for not being randomized (empty when randomized). Sorted
        by month, then screening id.

    Notes
    -----
    ``round(N * 58/27)`` screened and ``round(N * 34/27)`` eligible (58 and 34
    for N = 27); statuses are in random order; the first
    ``SCREENING_MONTHS`` people get one month each (every month has at least
    one screening), the others a month drawn uniformly.
    """
    n_ket, n_mid = _arm_sizes(n_per_arm)
    return _screening_log(seed, n_ket + n_mid)


def simulate_demo(
    seed: int = DEFAULT_SEED, n_per_arm: int | None = None
) -> dict[str, pd.DataFrame]:
    """Simulate the four demo tables at once.

    Parameters
    ----------
    seed, n_per_arm
        As in :func:`simulate_demo_trial`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys of ``DEMO_FILES``: ``trial`` (:func:`simulate_demo_trial`),
        ``adverse_events``, ``dissociation`` and ``screening_log``.
    """
    core = _simulate_participants(seed, n_per_arm)
    return {
        "trial": _trial_table(core, _simulate_mechanism(seed, core)),
        "adverse_events": _adverse_events(seed, core),
        "dissociation": _dissociation(seed, core),
        "screening_log": _screening_log(seed, len(core["codes"])),
    }


def _write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    out = os.fspath(path)
    parent = os.path.dirname(out)
    if parent:
        os.makedirs(parent, exist_ok=True)
    frame.to_csv(
        out,
        index=False,
        lineterminator="\n",
        float_format=f"%.{_MECHANISM_DECIMALS}f",
    )


def write_demo_trial(
    path: str | os.PathLike[str], seed: int = DEFAULT_SEED
) -> None:
    """Write the simulated demo trial to a CSV file, deterministically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; missing parent directories are created.
    seed : int, default 20261121
        Seed passed to :func:`simulate_demo_trial`.

    Notes
    -----
    Scores are written as integers, the mechanism outcomes with 3 decimals,
    and missing values as empty fields, with ``\\n`` line endings and no
    index, so a given seed always yields the same bytes.
    """
    _write_csv(simulate_demo_trial(seed=seed), path)


def write_demo(
    folder: str | os.PathLike[str], seed: int = DEFAULT_SEED
) -> dict[str, str]:
    """Write the four demo files into a folder, deterministically.

    Parameters
    ----------
    folder : str or os.PathLike
        Destination folder (created if missing).
    seed : int, default 20261121
        Seed passed to :func:`simulate_demo`.

    Returns
    -------
    dict of str to str
        The path written for each key of ``DEMO_FILES``.
    """
    written = {}
    for key, frame in simulate_demo(seed=seed).items():
        path = os.path.join(os.fspath(folder), DEMO_FILES[key])
        _write_csv(frame, path)
        written[key] = path
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: ``python -m pilottrial.demo.parallel PATH``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``). ``PATH`` is a folder, into
        which the four files of ``DEMO_FILES`` are written, or a file name
        ending in ``.csv``, to which only the trial data are written.
        ``--seed`` overrides the default seed 20261121.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pilottrial.demo.parallel",
        description="Write the SYNTHETIC ketamine vs midazolam PTSD demo trial as CSV.",
    )
    parser.add_argument(
        "path",
        help="output folder for all four files (e.g. data/demo/), or a .csv file for "
        "the trial data only (e.g. data/demo/ketamine_ptsd_demo.csv)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    if args.path.lower().endswith(".csv"):
        write_demo_trial(args.path, seed=args.seed)
    else:
        write_demo(args.path, seed=args.seed)


if __name__ == "__main__":
    main()
