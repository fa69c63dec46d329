"""Synthetic three-arm demo trial: ketamine 0.2 mg/kg, ketamine 0.5 mg/kg and midazolam in PTSD.

This module generates the dose-ranging demo in ``data/demo/``: the trial data
``ketamine_dose_ranging_demo.csv`` and its companion files ``dose_ranging_adverse_events.csv``,
``dose_ranging_dissociation.csv`` and ``dose_ranging_screening_log.csv`` (:data:`DOSE_RANGING_FILES`).
The data are **synthetic**: no real participant is represented. The trial has the visits,
outcomes, mechanism (fMRI) outcomes, harms and screening log of the two-arm demo
(:mod:`pilottrial.demo.parallel`; its constants in :mod:`pilottrial.demo.parameters`) and three arms:
the active placebo ``midazolam`` (reference, 13 participants), ``ketamine-0.2`` (13) and
``ketamine-0.5`` (14), 40 in all.

Model
-----
Every part of the two-arm model (``data/demo/README.md``, section *Model*) is kept, with the
treatment indicator ``a`` (0 or 1) replaced by the **dose fraction** ``f = dose / 0.5 mg/kg``:
``f = 0`` (midazolam), ``0.4`` (ketamine 0.2 mg/kg) and ``1`` (ketamine 0.5 mg/kg)
(:data:`DOSE_FRACTION`). The effect is linear in the dose, with the two-arm demo's effect at
0.5 mg/kg:

* change from baseline of outcome *o* at visit *v*::

      C[i, o, v] = REFERENCE_CHANGE[o][v] + f * TRUE_EFFECT[o][v]
                   + BASELINE_SLOPE * (B[i, o] - BASELINE_MEAN[o]) + E[i, o, v]

  so the true effect of ketamine-0.2 is ``0.4 * TRUE_EFFECT`` (CAPS-5 -3.2, -2.4, -2.0 at 24h,
  7d, 30d) and that of ketamine-0.5 is ``TRUE_EFFECT`` (-8, -6, -5); baseline, residual
  covariance, rounding and clipping as in the two-arm demo;
* the 30d mechanism change is ``MECHANISM_REFERENCE_CHANGE + f * MECHANISM_EFFECT + ...``
  (:func:`pilottrial.demo.extras.simulate_mechanism` with ``f`` in place of the indicator);
* the probability of each adverse event term is ``p_mid + f * (p_ket - p_mid)``
  (``AE_PROBABILITY``), the CADSS mean ``2 + f * (12 - 2)`` and its negative binomial dispersion
  ``0.8 + f * (1.2 - 0.8)``;
* dropout: exactly ``round(DROPOUT_FRACTION * N)`` participants (4 of 40), completely at random;
* screening log as in the two-arm demo for N = 40 randomized (86 screened, 50 eligible).

The true values are tabulated by :func:`true_dose_effects` and in ``data/demo/README.md``
(section *The three-arm dose-ranging demo*).

Randomness comes only from ``numpy.random.default_rng`` seeded from ``SeedSequence(seed)``
(default :data:`DOSE_RANGING_SEED`): children 0-5 for codes, allocation, demographics, baseline,
changes and dropout, and ``SeedSequence(seed, spawn_key=(k,))`` with k = 6-9 for the mechanism,
adverse events, dissociation and screening log, as in the two-arm demo.

Examples
--------
Regenerate the four dose-ranging files byte for byte::

    python -m pilottrial.demo.dose_ranging data/demo/
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pilottrial.demo.extras import screening_log_table, simulate_mechanism
from pilottrial.demo.parallel import _trial_table, _write_csv
from pilottrial.demo.parameters import (
    AE_PROBABILITY,
    AE_TERMS,
    BASELINE_CORR,
    BASELINE_MEAN,
    BASELINE_SD,
    BASELINE_SLOPE,
    CADSS_DISPERSION,
    CADSS_MEAN,
    CADSS_RANGE,
    CHANGE_SD,
    DROPOUT_FRACTION,
    DROPOUT_VISIT_PROBS,
    MECHANISM_EFFECT,
    MECHANISM_OUTCOMES,
    MECHANISM_REFERENCE_CHANGE,
    OUTCOME_CORR,
    OUTCOME_RANGES,
    OUTCOMES,
    POST_VISITS,
    REFERENCE_CHANGE,
    TRUE_EFFECT,
    VISIT_CORR,
    VISITS,
)
from pilottrial.demo.participants import by_code, extra_rng, participant_codes, round_half_up

__all__ = [
    "DOSE_RANGING_SEED",
    "DOSE_ARMS",
    "DOSE_FRACTION",
    "DOSE_ARM_SIZES",
    "DOSE_RANGING_FILES",
    "simulate_dose_ranging",
    "write_dose_ranging",
    "true_dose_effects",
    "main",
]

#: Seed of the bundled dose-ranging files.
DOSE_RANGING_SEED: int = 20261212
#: Arm labels, reference first.
DOSE_ARMS: tuple[str, str, str] = ("midazolam", "ketamine-0.2", "ketamine-0.5")
#: Dose fraction f = dose / 0.5 mg/kg of each arm (midazolam 0).
DOSE_FRACTION: dict[str, float] = {"midazolam": 0.0, "ketamine-0.2": 0.4, "ketamine-0.5": 1.0}
#: Participants per arm in the bundled files.
DOSE_ARM_SIZES: dict[str, int] = {"midazolam": 13, "ketamine-0.2": 13, "ketamine-0.5": 14}
#: File names written by :func:`write_dose_ranging`.
DOSE_RANGING_FILES: dict[str, str] = {
    "trial": "ketamine_dose_ranging_demo.csv",
    "adverse_events": "dose_ranging_adverse_events.csv",
    "dissociation": "dose_ranging_dissociation.csv",
    "screening_log": "dose_ranging_screening_log.csv",
}


def _sizes(n_per_arm: int | None) -> dict[str, int]:
    if n_per_arm is None:
        return dict(DOSE_ARM_SIZES)
    if isinstance(n_per_arm, bool) or not isinstance(n_per_arm, (int, np.integer)) or n_per_arm < 1:
        raise ValueError("n_per_arm must be a positive integer or None")
    return {arm: int(n_per_arm) for arm in DOSE_ARMS}


def _participants(seed: int, n_per_arm: int | None) -> dict[str, np.ndarray]:
    """Codes, arms, demographics, scores and dropout (children 0-5 of ``SeedSequence(seed)``)."""
    sizes = _sizes(n_per_arm)
    n = sum(sizes.values())
    n_out, n_post = len(OUTCOMES), len(POST_VISITS)
    rng_code, rng_arm, rng_demo, rng_base, rng_change, rng_drop = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(6)
    )
    codes = participant_codes(rng_code, n)
    arm = rng_arm.permutation(np.repeat(np.array(DOSE_ARMS, dtype=object), [sizes[a] for a in DOSE_ARMS]))
    fraction = np.array([DOSE_FRACTION[a] for a in arm])
    age = np.clip(np.rint(rng_demo.normal(38.0, 11.0, size=n)), 18, 70).astype(np.int64)
    sex = np.where(rng_demo.random(n) < 0.55, "F", "M")

    lo = np.array([OUTCOME_RANGES[o][0] for o in OUTCOMES], dtype=float)
    hi = np.array([OUTCOME_RANGES[o][1] for o in OUTCOMES], dtype=float)
    mu0 = np.array([BASELINE_MEAN[o] for o in OUTCOMES])
    sd0 = np.array([BASELINE_SD[o] for o in OUTCOMES])
    baseline = np.clip(np.rint(rng_base.multivariate_normal(mu0, BASELINE_CORR * np.outer(sd0, sd0), size=n)), lo, hi)

    sd_c = np.array([CHANGE_SD[o] for o in OUTCOMES]).ravel()
    cov_c = np.kron(OUTCOME_CORR, VISIT_CORR) * np.outer(sd_c, sd_c)
    resid = rng_change.multivariate_normal(np.zeros(n_out * n_post), cov_c, size=n).reshape(n, n_out, n_post)
    ref = np.array([[REFERENCE_CHANGE[o][v] for v in POST_VISITS] for o in OUTCOMES])
    eff = np.array([[TRUE_EFFECT[o][v] for v in POST_VISITS] for o in OUTCOMES])
    deviation = BASELINE_SLOPE * (baseline - mu0)[:, :, None] + resid
    change = ref[None] + fraction[:, None, None] * eff[None] + deviation
    post = np.clip(np.rint(baseline[:, :, None] + change), lo[None, :, None], hi[None, :, None])
    scores = np.concatenate([baseline[:, None, :], np.transpose(post, (0, 2, 1))], axis=1)

    n_drop = round_half_up(DROPOUT_FRACTION * n)
    first_missing = np.full(n, len(VISITS))
    dropouts = rng_drop.choice(n, size=n_drop, replace=False)
    first_missing[dropouts] = rng_drop.choice(np.arange(1, len(VISITS)), size=n_drop, p=DROPOUT_VISIT_PROBS)
    scores[np.arange(len(VISITS))[None, :] >= first_missing[:, None]] = np.nan

    j_caps, k_30d = OUTCOMES.index("caps5"), POST_VISITS.index("30d")
    sd_caps30 = np.hypot(CHANGE_SD["caps5"][k_30d], BASELINE_SLOPE * BASELINE_SD["caps5"])
    return {
        "codes": codes,
        "arm": arm,
        # simulate_mechanism multiplies MECHANISM_EFFECT by this: the dose fraction.
        "ketamine": fraction,
        "age": age,
        "sex": sex,
        "scores": scores,
        "first_missing": first_missing,
        "caps5_z30": deviation[:, j_caps, k_30d] / sd_caps30,
    }


def _interpolate(table: dict[str, float], f: np.ndarray) -> np.ndarray:
    """``table['midazolam'] + f * (table['ketamine'] - table['midazolam'])``."""
    return table["midazolam"] + f * (table["ketamine"] - table["midazolam"])


def _adverse_events(seed: int, core: dict[str, np.ndarray]) -> pd.DataFrame:
    rng = extra_rng(seed, "adverse_events")
    f = core["ketamine"]
    prob = np.column_stack([_interpolate({a: AE_PROBABILITY[a][t] for a in AE_PROBABILITY}, f) for t in AE_TERMS])
    who, which = np.nonzero(rng.random(prob.shape) < prob)
    frame = pd.DataFrame(
        {"participant": core["codes"][who].astype(str), "term": np.array(AE_TERMS, dtype=object)[which].astype(str)}
    )
    return by_code(frame)


def _dissociation(seed: int, core: dict[str, np.ndarray]) -> pd.DataFrame:
    rng = extra_rng(seed, "dissociation")
    mean = _interpolate(CADSS_MEAN, core["ketamine"])
    k = _interpolate(CADSS_DISPERSION, core["ketamine"])
    cadss = np.clip(rng.negative_binomial(k, k / (k + mean)), *CADSS_RANGE).astype(np.int64)
    return by_code(pd.DataFrame({"participant": core["codes"].astype(str), "cadss": cadss}))


def simulate_dose_ranging(seed: int = DOSE_RANGING_SEED, n_per_arm: int | None = None) -> dict[str, pd.DataFrame]:
    """Simulate the four tables of the three-arm dose-ranging demo.

    Parameters
    ----------
    seed : int, default 20261212
        Seed of the ``numpy.random.SeedSequence`` all randomness derives from.
    n_per_arm : int or None, default None
        Participants per arm: ``None`` gives 13 midazolam, 13 ketamine-0.2 and 14 ketamine-0.5;
        an integer gives that many in every arm (e.g. a large value to check the true effects).

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys of :data:`DOSE_RANGING_FILES`: ``trial`` (the columns of
        :func:`pilottrial.demo.parallel.simulate_demo_trial`, with ``arm`` one of
        :data:`DOSE_ARMS`), ``adverse_events``, ``dissociation`` and ``screening_log``.
    """
    core = _participants(seed, n_per_arm)
    trial = _trial_table(core, simulate_mechanism(seed, core))
    arm_of = dict(zip(core["codes"], core["arm"], strict=True))
    trial["arm"] = trial["participant"].map(arm_of).astype(str)
    return {
        "trial": trial,
        "adverse_events": _adverse_events(seed, core),
        "dissociation": _dissociation(seed, core),
        "screening_log": screening_log_table(seed, len(core["codes"])),
    }


def write_dose_ranging(folder: str | os.PathLike[str], seed: int = DOSE_RANGING_SEED) -> dict[str, str]:
    """Write the four dose-ranging files into ``folder`` (created if missing), deterministically.

    Written like the two-arm demo (integers, 3-decimal mechanism values, empty missing fields,
    ``\\n`` line endings). Returns the path written for each key of :data:`DOSE_RANGING_FILES`.
    """
    written = {}
    for key, frame in simulate_dose_ranging(seed=seed).items():
        path = os.path.join(os.fspath(folder), DOSE_RANGING_FILES[key])
        _write_csv(frame, path)
        written[key] = path
    return written


def true_dose_effects() -> pd.DataFrame:
    """The TRUE mean changes of the dose-ranging model.

    Returns
    -------
    pandas.DataFrame
        One row per outcome (clinical and mechanism) x post-baseline visit with ``outcome``,
        ``visit``, ``change_<arm>`` for the three arms and ``effect_<arm>`` (minus midazolam)
        for the two ketamine arms; before rounding, clipping and dropout.
    """
    rows = []
    cells = [(o, v, REFERENCE_CHANGE[o][v], TRUE_EFFECT[o][v]) for o in OUTCOMES for v in POST_VISITS]
    cells += [(m, "30d", MECHANISM_REFERENCE_CHANGE[m], MECHANISM_EFFECT[m]) for m in MECHANISM_OUTCOMES]
    for outcome, visit, ref, effect in cells:
        row = {"outcome": outcome, "visit": visit}
        row |= {f"change_{a}": ref + DOSE_FRACTION[a] * effect for a in DOSE_ARMS}
        row |= {f"effect_{a}": DOSE_FRACTION[a] * effect for a in DOSE_ARMS[1:]}
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m pilottrial.demo.dose_ranging FOLDER [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m pilottrial.demo.dose_ranging",
        description="Write the SYNTHETIC three-arm ketamine dose-ranging demo (four CSV files).",
    )
    parser.add_argument("folder", help="output folder, e.g. data/demo/")
    parser.add_argument("--seed", type=int, default=DOSE_RANGING_SEED, help=f"seed (default {DOSE_RANGING_SEED})")
    args = parser.parse_args(argv)
    write_dose_ranging(args.folder, seed=args.seed)


if __name__ == "__main__":
    main()
