"""Synthetic demo trial: ketamine vs midazolam for chronic PTSD.

This module generates the bundled demo data set in ``data/demo/``: the trial
data ``ketamine_ptsd_demo.csv`` and the companion files ``adverse_events.csv``,
``dissociation.csv`` and ``screening_log.csv``. The data are **synthetic**: no real
participant is represented. The design is modelled on a published
27-participant randomized pilot trial of a single intravenous infusion of
ketamine (0.5 mg/kg over 40 min, n = 14) against the active placebo
midazolam (0.045 mg/kg, n = 13) in chronic posttraumatic stress disorder,
but every number is drawn from the model documented below and in
``data/demo/README.md``. The constants named below are in
:mod:`pilottrial.demo.parameters`; the participants and clinical scores are drawn in
:mod:`pilottrial.demo.participants`, the other components in :mod:`pilottrial.demo.extras`.

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

from pilottrial.demo.extras import adverse_events_table, dissociation_table, screening_log_table, simulate_mechanism
from pilottrial.demo.parameters import (
    ARMS,
    DEFAULT_SEED,
    DEMO_FILES,
    MECHANISM_DECIMALS,
    MECHANISM_OUTCOMES,
    OUTCOMES,
    VISITS,
)
from pilottrial.demo.participants import arm_sizes, by_code, simulate_participants

__all__ = [
    "simulate_demo_trial",
    "simulate_adverse_events",
    "simulate_dissociation",
    "simulate_screening_log",
    "simulate_demo",
    "write_demo_trial",
    "write_demo",
    "main",
]


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
    return by_code(df)


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
    core = simulate_participants(seed, n_per_arm)
    return _trial_table(core, simulate_mechanism(seed, core))


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
    core = simulate_participants(seed, n_per_arm)
    return adverse_events_table(seed, core)


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
    core = simulate_participants(seed, n_per_arm)
    return dissociation_table(seed, core)


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
    n_ket, n_mid = arm_sizes(n_per_arm)
    return screening_log_table(seed, n_ket + n_mid)


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
    core = simulate_participants(seed, n_per_arm)
    return {
        "trial": _trial_table(core, simulate_mechanism(seed, core)),
        "adverse_events": adverse_events_table(seed, core),
        "dissociation": dissociation_table(seed, core),
        "screening_log": screening_log_table(seed, len(core["codes"])),
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
        float_format=f"%.{MECHANISM_DECIMALS}f",
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
