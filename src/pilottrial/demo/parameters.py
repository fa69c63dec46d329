"""The true values of the synthetic demo trial's model (see :mod:`pilottrial.demo.parallel`).

Every number the generator draws from is here: arms and visits, the baseline distribution, the
true mean changes and treatment effects, the residual covariance, dropout, the mechanism (fMRI)
model, adverse events, dissociation and the screening log. :func:`true_effects` and
:func:`true_mechanism_effects` tabulate the true values that ``data/demo/README.md`` documents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SEED", "ARMS", "DEFAULT_ARM_SIZES", "VISITS", "POST_VISITS", "OUTCOMES", "OUTCOME_RANGES",
    "BASELINE_MEAN", "BASELINE_SD", "BASELINE_CORR", "REFERENCE_CHANGE", "TRUE_EFFECT", "CHANGE_SD",
    "VISIT_CORR", "OUTCOME_CORR", "BASELINE_SLOPE", "DROPOUT_FRACTION", "DROPOUT_VISIT_PROBS",
    "MECHANISM_OUTCOMES", "MECHANISM_VISITS", "MECHANISM_BASELINE_MEAN", "MECHANISM_BASELINE_SD",
    "MECHANISM_BASELINE_CORR", "MECHANISM_REFERENCE_CHANGE", "MECHANISM_EFFECT", "MECHANISM_CHANGE_SD",
    "MECHANISM_CAPS5_CORR", "MECHANISM_RESIDUAL_CORR", "MECHANISM_DECIMALS", "AE_TERMS", "AE_PROBABILITY",
    "CADSS_RANGE", "CADSS_MEAN", "CADSS_DISPERSION", "SCREENING_START", "SCREENING_MONTHS",
    "SCREENED_PER_RANDOMIZED", "ELIGIBLE_PER_RANDOMIZED", "INELIGIBLE_REASONS", "NOT_RANDOMIZED_REASONS",
    "DEMO_FILES", "EXTRA_STREAMS", "true_effects", "true_mechanism_effects",
]

#: Seed of the bundled demo file.
DEFAULT_SEED: int = 20261121

#: Arm labels: (treatment, reference).
ARMS: tuple[str, str] = ("ketamine", "midazolam")
#: Default arm sizes of the demo trial (ketamine, midazolam).
DEFAULT_ARM_SIZES: tuple[int, int] = (14, 13)

#: Visit labels in chronological order; the first one is baseline.
VISITS: tuple[str, ...] = ("baseline", "24h", "7d", "30d")
POST_VISITS: tuple[str, ...] = VISITS[1:]

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
MECHANISM_DECIMALS = 3

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
EXTRA_STREAMS: dict[str, int] = {
    "mechanism": 6,
    "adverse_events": 7,
    "dissociation": 8,
    "screening_log": 9,
}


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
        for v in POST_VISITS
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
