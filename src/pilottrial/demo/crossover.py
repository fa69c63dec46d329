"""Synthetic demo crossover trial: ketamine vs midazolam for PTSD, two periods.

This module generates the bundled demo data set
``data/demo-crossover/ketamine_ptsd_crossover_demo.csv``. The data are **synthetic**: no real
participant is represented. The design is modelled on a published 41-participant randomized,
double-blind two-period crossover of one intravenous infusion of ketamine (0.5 mg/kg) and one
of the active placebo midazolam (0.045 mg/kg) in chronic PTSD, infusions two weeks apart, with
the Impact of Event Scale-Revised (IES-R, 0-88, lower is better) rated before each infusion
(the period baseline) and 24 hours after it. Only the design is borrowed; every number comes
from the model below (also in ``data/demo-crossover/README.md``).

Model
-----
Participant *i* is randomized to sequence KM (ketamine in period 1, midazolam in period 2) or
MK; period *p* in {1, 2}; :math:`K_{ip} = 1` when the participant receives ketamine in period
*p*.

* **Period baseline** (IES-R before the infusion of period *p*)::

      B[i, p] = PRE_MEAN + a[i] + e[i, p],   a[i] ~ N(0, PRE_SD^2 * PRE_CORR),
                                             e[i, p] ~ N(0, PRE_SD^2 * (1 - PRE_CORR))

  so that the SD of a period baseline is ``PRE_SD`` (12) and the correlation of a participant's
  two period baselines is ``PRE_CORR`` (0.7). No carry-over: the period-2 baseline does not
  depend on the period-1 treatment. Rounded to integers and clipped to 0-88.
* **Change at 24 hours**::

      C[i, p] = REFERENCE_CHANGE + K[i, p] * TRUE_EFFECT + PERIOD_EFFECT * [p = 2]
                + CARRYOVER * [p = 2 and K[i, 1] = 1]
                + BASELINE_SLOPE * (B[i, p] - PRE_MEAN) + u[i] + r[i, p]

  with the participant random effect :math:`u_i \\sim N(0, \\text{CHANGE\\_PARTICIPANT\\_SD}^2)`
  and the within-participant residual :math:`r_{ip} \\sim N(0, \\text{CHANGE\\_RESIDUAL\\_SD}^2)`;
  ``CARRYOVER`` is 0.
* **Score at 24 hours** = ``clip(round(B + C), 0, 88)``.
* **Missing period 2**: exactly ``N_MISSING_PERIOD2`` (3) participants, drawn at random without
  replacement, do not complete period 2 (missing completely at random); their period-2 row is
  kept with both scores empty.

Randomness comes only from ``numpy.random.default_rng`` seeded with children of
``numpy.random.SeedSequence(seed)``, one child per model component, so the output is a pure
function of ``seed`` and the sequence sizes.

Examples
--------
Regenerate the bundled file byte for byte::

    python -m pilottrial.demo.crossover data/demo-crossover/ketamine_ptsd_crossover_demo.csv
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pilottrial.demo.participants import participant_codes

__all__ = [
    "DEFAULT_SEED",
    "ARMS",
    "SEQUENCES",
    "SEQUENCE_SIZES",
    "OUTCOME_RANGE",
    "PRE_MEAN",
    "PRE_SD",
    "PRE_CORR",
    "REFERENCE_CHANGE",
    "TRUE_EFFECT",
    "PERIOD_EFFECT",
    "CARRYOVER",
    "BASELINE_SLOPE",
    "CHANGE_PARTICIPANT_SD",
    "CHANGE_RESIDUAL_SD",
    "N_MISSING_PERIOD2",
    "COLUMNS",
    "crossover_true_values",
    "simulate_crossover_demo",
    "write_crossover_demo",
    "main",
]

#: Seed of the bundled demo file.
DEFAULT_SEED: int = 20261121

#: Arm labels: (treatment, reference).
ARMS: tuple[str, str] = ("ketamine", "midazolam")
#: Sequences: label -> arm received in period 1 and period 2.
SEQUENCES: dict[str, tuple[str, str]] = {"KM": ("ketamine", "midazolam"), "MK": ("midazolam", "ketamine")}
#: Participants randomized to each sequence (KM, MK).
SEQUENCE_SIZES: tuple[int, int] = (21, 20)
#: Inclusive integer range of the IES-R total.
OUTCOME_RANGE: tuple[int, int] = (0, 88)

#: Population mean of a period baseline (IES-R before an infusion).
PRE_MEAN: float = 45.0
#: Population SD of a period baseline.
PRE_SD: float = 12.0
#: Correlation of a participant's two period baselines.
PRE_CORR: float = 0.7
#: TRUE mean change at 24 h after midazolam in period 1 (at the mean period baseline).
REFERENCE_CHANGE: float = -6.0
#: TRUE treatment effect on the change at 24 h: ketamine minus midazolam.
TRUE_EFFECT: float = -12.0
#: TRUE period effect on the change at 24 h: period 2 minus period 1.
PERIOD_EFFECT: float = -2.0
#: TRUE carry-over of ketamine into period 2 (none).
CARRYOVER: float = 0.0
#: Regression of the change on the centred period baseline (regression to the mean).
BASELINE_SLOPE: float = -0.2
#: SD of the participant random effect on the change (shared by both periods).
CHANGE_PARTICIPANT_SD: float = 5.0
#: SD of the within-participant residual of the change.
CHANGE_RESIDUAL_SD: float = 7.0
#: Participants who do not complete period 2 (chosen at random).
N_MISSING_PERIOD2: int = 3

#: Columns of the simulated table, in file order.
COLUMNS: tuple[str, ...] = ("participant", "sequence", "period", "treatment", "ies_r_pre", "ies_r_24h")

_CODE_PREFIX = "XO-"


def crossover_true_values() -> pd.DataFrame:
    """The TRUE parameters of the simulation model as a table.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter``, ``value``, ``meaning``; rows ``treatment_effect`` (ketamine
        minus midazolam, change at 24 h), ``period_effect`` (period 2 minus period 1),
        ``carryover``, ``reference_change``, ``baseline_slope``, ``participant_variance``
        (:math:`\\sigma_u^2` of the change), ``residual_variance`` (:math:`\\sigma^2`),
        ``pre_mean``, ``pre_sd``, ``pre_corr``. Values are before rounding and clipping.
    """
    rows = [
        ("treatment_effect", TRUE_EFFECT, "mean change at 24 h, ketamine minus midazolam"),
        ("period_effect", PERIOD_EFFECT, "mean change at 24 h, period 2 minus period 1"),
        ("carryover", CARRYOVER, "effect of ketamine in period 1 on the period-2 change"),
        ("reference_change", REFERENCE_CHANGE, "mean change after midazolam in period 1"),
        ("baseline_slope", BASELINE_SLOPE, "change per point of centred period baseline"),
        ("participant_variance", CHANGE_PARTICIPANT_SD**2, "variance of the participant effect on the change"),
        ("residual_variance", CHANGE_RESIDUAL_SD**2, "within-participant residual variance of the change"),
        ("pre_mean", PRE_MEAN, "mean period baseline"),
        ("pre_sd", PRE_SD, "SD of a period baseline"),
        ("pre_corr", PRE_CORR, "correlation of a participant's two period baselines"),
    ]
    return pd.DataFrame(rows, columns=["parameter", "value", "meaning"])


def simulate_crossover_demo(seed: int = DEFAULT_SEED,
                            sequence_sizes: tuple[int, int] = SEQUENCE_SIZES,
                            carryover: float = CARRYOVER) -> pd.DataFrame:
    """Simulate the synthetic two-period ketamine vs midazolam crossover trial.

    Parameters
    ----------
    seed : int, default 20261121
        Seed of the ``numpy.random.SeedSequence`` from which all randomness is derived. The
        bundled demo file uses the default.
    sequence_sizes : (int, int), default (21, 20)
        Participants in sequences KM and MK (e.g. large values to check the true effects).
    carryover : float, default 0
        Carry-over of ketamine into the period-2 change of sequence KM (0 in the demo; other
        values for power checks of the carry-over test).

    Returns
    -------
    pandas.DataFrame
        One row per participant x period with the columns of :data:`COLUMNS`: ``participant``
        (str, ``XO-XXXX``), ``sequence`` (``KM``/``MK``), ``period`` (int, 1 or 2),
        ``treatment`` (the arm received in that period), ``ies_r_pre`` and ``ies_r_24h``
        (nullable ``Int64``, 0-88; both missing in the period-2 row of the
        ``N_MISSING_PERIOD2`` participants who did not complete period 2). Sorted by
        participant code, then period.

    Notes
    -----
    The model and the true values are in the module docstring and
    ``data/demo-crossover/README.md``.
    """
    n_km, n_mk = (int(k) for k in sequence_sizes)
    if n_km < 1 or n_mk < 1:
        raise ValueError("each sequence needs at least one participant")
    n = n_km + n_mk
    ss = np.random.SeedSequence(seed)
    rng_code, rng_sequence, rng_pre, rng_change, rng_missing = (np.random.default_rng(c) for c in ss.spawn(5))

    codes = participant_codes(rng_code, n, prefix=_CODE_PREFIX)
    first_ketamine = rng_sequence.permutation(np.r_[np.ones(n_km, bool), np.zeros(n_mk, bool)])
    ketamine = np.column_stack([first_ketamine, ~first_ketamine])  # n x period

    lo, hi = OUTCOME_RANGE
    between = rng_pre.normal(0.0, PRE_SD * np.sqrt(PRE_CORR), size=n)
    within = rng_pre.normal(0.0, PRE_SD * np.sqrt(1.0 - PRE_CORR), size=(n, 2))
    pre = np.clip(np.rint(PRE_MEAN + between[:, None] + within), lo, hi)

    participant_effect = rng_change.normal(0.0, CHANGE_PARTICIPANT_SD, size=n)
    residual = rng_change.normal(0.0, CHANGE_RESIDUAL_SD, size=(n, 2))
    period2 = np.array([0.0, 1.0])
    change = (REFERENCE_CHANGE + ketamine * TRUE_EFFECT + period2 * PERIOD_EFFECT
              + period2 * first_ketamine[:, None] * carryover
              + BASELINE_SLOPE * (pre - PRE_MEAN) + participant_effect[:, None] + residual)
    post = np.clip(np.rint(pre + change), lo, hi)

    incomplete = rng_missing.choice(n, size=min(N_MISSING_PERIOD2, n), replace=False)
    pre[incomplete, 1] = np.nan
    post[incomplete, 1] = np.nan

    frame = pd.DataFrame({
        "participant": np.repeat(codes, 2).astype(str),
        "sequence": np.repeat(np.where(first_ketamine, "KM", "MK"), 2).astype(str),
        "period": np.tile(np.array([1, 2], dtype=np.int64), n),
        "treatment": np.where(ketamine, ARMS[0], ARMS[1]).ravel().astype(str),
        "ies_r_pre": pd.array(pre.ravel(), dtype="Int64"),
        "ies_r_24h": pd.array(post.ravel(), dtype="Int64"),
    })
    order = np.argsort(frame["participant"].to_numpy(dtype=object), kind="stable")
    return frame.iloc[order].reset_index(drop=True)[list(COLUMNS)]


def write_crossover_demo(path: str | os.PathLike[str], seed: int = DEFAULT_SEED) -> None:
    """Write the simulated crossover demo to CSV, deterministically.

    Integers, missing scores as empty fields, ``\\n`` line endings, no index: a given seed
    always yields the same bytes. Missing parent directories are created.
    """
    frame = simulate_crossover_demo(seed=seed)
    out = os.fspath(path)
    parent = os.path.dirname(out)
    if parent:
        os.makedirs(parent, exist_ok=True)
    frame.to_csv(out, index=False, lineterminator="\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m pilottrial.demo.crossover PATH [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m pilottrial.demo.crossover",
        description="Write the SYNTHETIC ketamine vs midazolam PTSD crossover demo trial as CSV.",
    )
    parser.add_argument("path", help="output CSV, e.g. data/demo-crossover/ketamine_ptsd_crossover_demo.csv")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    write_crossover_demo(args.path, seed=args.seed)


if __name__ == "__main__":
    main()
