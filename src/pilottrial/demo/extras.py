"""The demo trial's other data: imaging (mechanism outcomes), adverse events, dissociation and
the screening log, each from its own random stream (:func:`~pilottrial.demo.participants.extra_rng`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.demo.parameters import (
    AE_PROBABILITY,
    AE_TERMS,
    ARMS,
    CADSS_DISPERSION,
    CADSS_MEAN,
    CADSS_RANGE,
    ELIGIBLE_PER_RANDOMIZED,
    INELIGIBLE_REASONS,
    MECHANISM_BASELINE_CORR,
    MECHANISM_BASELINE_MEAN,
    MECHANISM_BASELINE_SD,
    MECHANISM_CAPS5_CORR,
    MECHANISM_CHANGE_SD,
    MECHANISM_DECIMALS,
    MECHANISM_EFFECT,
    MECHANISM_OUTCOMES,
    MECHANISM_REFERENCE_CHANGE,
    MECHANISM_RESIDUAL_CORR,
    MECHANISM_VISITS,
    NOT_RANDOMIZED_REASONS,
    SCREENED_PER_RANDOMIZED,
    SCREENING_MONTHS,
    SCREENING_START,
    VISITS,
)
from pilottrial.demo.participants import by_code, extra_rng, participant_codes, round_half_up

__all__ = ["simulate_mechanism", "adverse_events_table", "dissociation_table", "screening_log_table"]

_SCREENING_PREFIX = "SC-"


def simulate_mechanism(seed: int, core: dict[str, np.ndarray]) -> np.ndarray:
    """Mechanism (fMRI) values of the participants ``core``, n x visits x mechanism outcomes
    (NaN where not measured)."""
    rng = extra_rng(seed, "mechanism")
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
    return np.round(values, MECHANISM_DECIMALS) + 0.0


def adverse_events_table(seed: int, core: dict[str, np.ndarray]) -> pd.DataFrame:
    """Adverse events of the participants ``core`` (see :func:`pilottrial.demo.parallel.simulate_adverse_events`)."""
    rng = extra_rng(seed, "adverse_events")
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
    return by_code(frame)


def dissociation_table(seed: int, core: dict[str, np.ndarray]) -> pd.DataFrame:
    """CADSS totals of the participants ``core`` (see :func:`pilottrial.demo.parallel.simulate_dissociation`)."""
    rng = extra_rng(seed, "dissociation")
    arm = np.where(core["ketamine"], ARMS[0], ARMS[1])
    mean = np.array([CADSS_MEAN[a] for a in arm])
    k = np.array([CADSS_DISPERSION[a] for a in arm])
    draws = rng.negative_binomial(k, k / (k + mean))
    cadss = np.clip(draws, *CADSS_RANGE).astype(np.int64)
    frame = pd.DataFrame({"participant": core["codes"].astype(str), "cadss": cadss})
    return by_code(frame)


def _month_labels(start: str, n_months: int) -> list[str]:
    """``n_months`` labels ``YYYY-MM`` from ``start`` on."""
    year, month = (int(x) for x in start.split("-"))
    first = year * 12 + month - 1
    return [f"{(first + i) // 12:04d}-{(first + i) % 12 + 1:02d}" for i in range(n_months)]


def screening_log_table(seed: int, n_randomized: int) -> pd.DataFrame:
    """Screening log of a trial randomizing ``n_randomized`` (see
    :func:`pilottrial.demo.parallel.simulate_screening_log`)."""
    rng = extra_rng(seed, "screening_log")
    n_eligible = max(round_half_up(n_randomized * ELIGIBLE_PER_RANDOMIZED), n_randomized)
    n_screened = max(round_half_up(n_randomized * SCREENED_PER_RANDOMIZED), n_eligible)
    ids = participant_codes(rng, n_screened, prefix=_SCREENING_PREFIX)
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
