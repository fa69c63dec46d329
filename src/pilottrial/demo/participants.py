"""The demo trial's participants: codes, allocation, demographics, clinical scores and dropout.

Children 0-5 of ``numpy.random.SeedSequence(seed)`` (codes, allocation, demographics, baseline
scores, changes, dropout); the components added later draw from :func:`extra_rng`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.demo.parameters import (
    BASELINE_CORR,
    BASELINE_MEAN,
    BASELINE_SD,
    BASELINE_SLOPE,
    CHANGE_SD,
    DEFAULT_ARM_SIZES,
    DROPOUT_FRACTION,
    DROPOUT_VISIT_PROBS,
    EXTRA_STREAMS,
    OUTCOME_CORR,
    OUTCOME_RANGES,
    OUTCOMES,
    POST_VISITS,
    REFERENCE_CHANGE,
    TRUE_EFFECT,
    VISIT_CORR,
    VISITS,
)

__all__ = ["simulate_participants", "participant_codes", "arm_sizes", "extra_rng", "round_half_up", "by_code"]

_AGE_MEAN, _AGE_SD, _AGE_RANGE = 38.0, 11.0, (18, 70)
_P_FEMALE = 0.55
_CODE_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_CODE_LENGTH = 4
_CODE_PREFIX = "PT-"


def participant_codes(
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


def arm_sizes(n_per_arm: int | None) -> tuple[int, int]:
    """(ketamine, midazolam) participants: the demo's 14 and 13 for None, else ``n_per_arm`` each."""
    if n_per_arm is None:
        return DEFAULT_ARM_SIZES
    if isinstance(n_per_arm, bool) or not isinstance(n_per_arm, (int, np.integer)):
        raise TypeError("n_per_arm must be an integer or None")
    if n_per_arm < 1:
        raise ValueError("n_per_arm must be at least 1")
    return int(n_per_arm), int(n_per_arm)


def extra_rng(seed: int, component: str) -> np.random.Generator:
    """Generator of a component added after the scores: ``SeedSequence(seed, spawn_key=(k,))``."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(EXTRA_STREAMS[component],))
    )


def round_half_up(x: float) -> int:
    """``x`` rounded to the nearest integer, halves up."""
    return int(np.floor(x + 0.5))


def simulate_participants(seed: int, n_per_arm: int | None) -> dict[str, np.ndarray]:
    """Participants, clinical scores and dropout (children 0-5 of the root seed).

    Returns arrays in generation order (not sorted by code): ``codes``,
    ``ketamine`` (bool), ``age``, ``sex``, ``scores`` (n x visits x outcomes,
    NaN after dropout), ``first_missing`` (index of the first missing visit,
    ``len(VISITS)`` = none) and ``caps5_z30`` (standardized within-arm CAPS-5
    change at 30d before rounding, the link to the mechanism outcomes).
    """
    n_ket, n_mid = arm_sizes(n_per_arm)
    n = n_ket + n_mid
    n_out, n_post = len(OUTCOMES), len(POST_VISITS)

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
    codes = participant_codes(rng_code, n)
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
    ref = np.array([[REFERENCE_CHANGE[o][v] for v in POST_VISITS] for o in OUTCOMES])
    eff = np.array([[TRUE_EFFECT[o][v] for v in POST_VISITS] for o in OUTCOMES])
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
    j_caps, k_30d = OUTCOMES.index("caps5"), POST_VISITS.index("30d")
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


def by_code(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable sort on the participant code (keeps the within-participant order)."""
    order = np.argsort(frame["participant"].to_numpy(dtype=object), kind="stable")
    return frame.iloc[order].reset_index(drop=True)
