"""Synthetic demo trial: ketamine vs midazolam for chronic PTSD.

This module generates the bundled demo data set
``data/demo/ketamine_ptsd_demo.csv``. The data are **synthetic**: no real
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

Because of rounding and clipping to the score ranges, the expected means can
differ slightly from the nominal ones (by less than 0.1 point in simulations
with 10,000 participants per arm; largest for MADRS at 24h in the ketamine
arm, where the lower bound 0 is about two SDs away).

Randomness comes only from ``numpy.random.default_rng`` seeded with children
of ``numpy.random.SeedSequence(seed)``; one child per model component, so the
output is a pure function of ``seed`` and ``n_per_arm``.

Examples
--------
Regenerate the bundled file byte for byte::

    python -m pilottrial.simulate data/demo/ketamine_ptsd_demo.csv
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
    "true_effects",
    "simulate_demo_trial",
    "write_demo_trial",
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

_AGE_MEAN, _AGE_SD, _AGE_RANGE = 38.0, 11.0, (18, 70)
_P_FEMALE = 0.55
_CODE_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_CODE_LENGTH = 4
_CODE_PREFIX = "PT-"


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


def _participant_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw ``n`` unique opaque codes ``PT-XXXX`` (uppercase letters/digits)."""
    base = len(_CODE_ALPHABET)
    if n > base**_CODE_LENGTH:
        raise ValueError(f"cannot draw {n} unique participant codes")
    idx = rng.choice(base**_CODE_LENGTH, size=n, replace=False)
    powers = base ** np.arange(_CODE_LENGTH - 1, -1, -1)
    digits = (idx[:, None] // powers) % base
    chars = _CODE_ALPHABET[digits]
    return np.array([_CODE_PREFIX + "".join(row) for row in chars], dtype=object)


def _arm_sizes(n_per_arm: int | None) -> tuple[int, int]:
    if n_per_arm is None:
        return _DEFAULT_ARM_SIZES
    if isinstance(n_per_arm, bool) or not isinstance(n_per_arm, (int, np.integer)):
        raise TypeError("n_per_arm must be an integer or None")
    if n_per_arm < 1:
        raise ValueError("n_per_arm must be at least 1")
    return int(n_per_arm), int(n_per_arm)


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
        ``30d``), ``age`` (int64, years 18-70), ``sex`` (str, ``F``/``M``)
        and the integer scores ``caps5`` (0-80), ``pcl5`` (0-80) and
        ``madrs`` (0-60) as nullable ``Int64``; after dropout all three
        scores are missing (``<NA>``). Rows are sorted by participant code,
        then visit in chronological order.

    Notes
    -----
    The model and the true effects are described in the module docstring
    and in ``data/demo/README.md``.
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
    change = (
        ref[None, :, :]
        + ketamine[:, None, None] * eff[None, :, :]
        + BASELINE_SLOPE * (baseline - mu0)[:, :, None]
        + resid
    )
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

    # Long table.
    n_vis = len(VISITS)
    data: dict[str, object] = {
        "participant": np.repeat(codes, n_vis),
        "arm": np.repeat(np.where(ketamine, ARMS[0], ARMS[1]), n_vis),
        "visit": np.tile(np.array(VISITS, dtype=object), n),
        "age": np.repeat(age, n_vis),
        "sex": np.repeat(sex, n_vis),
    }
    flat = scores.reshape(n * n_vis, n_out)
    for j, o in enumerate(OUTCOMES):
        data[o] = pd.array(flat[:, j], dtype="Int64")  # NaN -> <NA>
    df = pd.DataFrame(data)
    for col in ("participant", "arm", "visit", "sex"):
        df[col] = df[col].astype(str)

    # Rows are already in visit order within participant; a stable sort on
    # the (unique) code keeps that order.
    order = np.argsort(df["participant"].to_numpy(dtype=object), kind="stable")
    return df.iloc[order].reset_index(drop=True)


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
    Scores are written as integers and missing scores as empty fields, with
    ``\\n`` line endings and no index, so a given seed always yields the same
    bytes.
    """
    df = simulate_demo_trial(seed=seed)
    out = os.fspath(path)
    parent = os.path.dirname(out)
    if parent:
        os.makedirs(parent, exist_ok=True)
    df.to_csv(out, index=False, lineterminator="\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: ``python -m pilottrial.simulate PATH``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``). ``PATH`` is the output CSV;
        ``--seed`` overrides the default seed 20261121.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pilottrial.simulate",
        description="Write the SYNTHETIC ketamine vs midazolam PTSD demo trial as CSV.",
    )
    parser.add_argument("path", help="output CSV, e.g. data/demo/ketamine_ptsd_demo.csv")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    write_demo_trial(args.path, seed=args.seed)


if __name__ == "__main__":
    main()
