r"""Simulated trials and their analysis by the primary MMRM, in chunks and shards.

The work is cut into chunks of :data:`CHUNK` simulations of one (effect, n); shard ``i`` of
``S`` takes chunks ``i, i + S, ...`` (:func:`shard_tasks`); each simulated trial draws from its
own random stream, spawned from the seed by (n per arm, simulation) (:func:`trial_streams`),
and is fitted in a batch made of its chunk only. A trial's result therefore does not depend on
the number of shards, and the gathered results (:func:`combine_shards`) are identical whatever
``S``. The effects share their streams (common random numbers), so their curves differ by the
effect only.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from pilottrial.models.frame import FORMULA
from pilottrial.models.mmrm.monotone import MonotoneTrials, fit_monotone_batch
from pilottrial.planning.options import CHUNK, shard_resources
from pilottrial.planning.settings import PowerPlan

__all__ = ["trial_streams", "simulate_trials", "trial_frame", "fit_trials", "simulate_chunk", "shard_tasks",
           "simulate_shard", "shard_resources", "combine_shards", "CHUNK", "SHARD_COLUMNS", "FORMULA",
           "FALLBACK_OPTIMIZERS"]

SHARD_COLUMNS = ["effect_source", "effect", "n_per_arm", "simulation", "estimate", "std_error", "df",
                 "p_value", "significant", "fitter"]
FALLBACK_OPTIMIZERS = ("scoring", "BFGS")


def trial_streams(seed: int, n_per_arm: int, start: int, stop: int) -> list:
    """Random streams of simulations ``start .. stop - 1`` at ``n_per_arm``.

    The stream of simulation ``s`` is ``SeedSequence(seed).spawn(n_per_arm + 1)[n_per_arm]
    .spawn(s + 1)[s]``: child ``n_per_arm`` of the root, then child ``s`` of that (built here
    directly from its spawn key, which is what ``spawn`` does). It depends on nothing else,
    so adding grid points or simulations leaves the existing trials as they were.
    """
    parent = np.random.SeedSequence(seed, spawn_key=(int(n_per_arm),))
    return parent.spawn(stop)[start:stop]


def simulate_trials(plan: PowerPlan, n_per_arm: int, effect: float, streams) -> MonotoneTrials:
    """One simulated trial per stream: ``n_per_arm`` participants in each arm.

    Baseline :math:`b_i \\sim N(\\bar b, s_b^2)`; change at visit ``j``:
    :math:`\\mu_j + \\beta_b(b_i - \\bar b) + a_i\\delta_j + \\varepsilon_{ij}`,
    :math:`\\varepsilon_i \\sim N(0, \\Sigma)`, :math:`\\mu` the reference arm's adjusted means,
    :math:`\\delta` the pilot differences with ``effect`` at the tested visit; a participant of
    arm ``a`` still in the trial misses visit ``j`` and all later ones with probability
    ``hazard[a][j]``. Draws per stream, in order: baseline (N), residuals (N x m), dropout
    uniforms (N x m).
    """
    m = len(plan.visits)
    N = 2 * n_per_arm
    arm = np.repeat([0, 1], n_per_arm)
    chol = np.linalg.cholesky(np.asarray(plan.sigma, dtype=float))
    delta = np.asarray(plan.differences, dtype=float).copy()
    delta[plan.visit_index] = effect
    mean = np.asarray(plan.reference_means, dtype=float)[None, :] + arm[:, None] * delta[None, :]
    hazard = np.asarray(plan.hazard, dtype=float)[arm]  # (N, m)
    T = len(streams)
    baseline = np.empty((T, N))
    change = np.empty((T, N, m))
    for t, stream in enumerate(streams):
        rng = np.random.default_rng(stream)
        b = rng.standard_normal(N)
        eps = rng.standard_normal((N, m)) @ chol.T
        u = rng.random((N, m))
        baseline[t] = plan.baseline_mean + plan.baseline_sd * b
        y = mean + plan.baseline_slope * plan.baseline_sd * b[:, None] + eps
        gone = np.cumsum(u < hazard, axis=1) > 0
        y[gone] = np.nan
        change[t] = y
    return MonotoneTrials(arm=arm, baseline=baseline, change=change)


def trial_frame(trials: MonotoneTrials, t: int, plan: PowerPlan) -> pd.DataFrame:
    """Trial ``t`` of a batch as a long table for :func:`~pilottrial.models.mmrm.fit_mmrm`
    (``participant, arm, visit, baseline, change``; missing changes dropped)."""
    N, m = trials.change.shape[1:]
    width = len(str(N))
    frame = pd.DataFrame({
        "participant": np.repeat([f"P{i + 1:0{width}d}" for i in range(N)], m),
        "arm": pd.Categorical(np.repeat(np.asarray(plan.arms)[trials.arm], m), categories=plan.arms),
        "visit": pd.Categorical(np.tile(plan.visits, N), categories=plan.visits),
        "baseline": np.repeat(trials.baseline[t], m),
        "change": trials.change[t].ravel(),
    })
    return frame.dropna(subset=["change"]).reset_index(drop=True)


def _fit_one(frame: pd.DataFrame, plan: PowerPlan) -> tuple:
    """``fit_mmrm`` with the config's fallback chain: (estimate, SE, df, p, fitter).

    Optimizers Fisher scoring then BFGS only (:data:`FALLBACK_OPTIMIZERS`): on the degenerate
    small trials that reach this point, L-BFGS-B and Powell can take minutes per trial for the
    same outcome (the unstructured fit fails and a simpler structure is used)."""
    from pilottrial.models.mmrm import MMRMError, fit_mmrm  # here: most chunks need no refit

    visits = [v for v in plan.visits if v in set(frame["visit"])]
    formula = FORMULA if len(plan.visits) > 1 else "change ~ baseline + arm"
    try:
        fit = fit_mmrm(frame, formula, subject="participant", visit="visit", covariance="us",
                       fallback=plan.fallback, method="reml", df_method="satterthwaite",
                       optimizers=FALLBACK_OPTIMIZERS)
        if visits != plan.visits:
            raise MMRMError("a visit has no data")
        table = fit.treatment_contrasts("arm", plan.arms[0], plan.arms[1], visit="visit", alpha=plan.alpha)
        row = table.iloc[plan.visit_index if len(plan.visits) > 1 else 0]
        return (float(row["estimate"]), float(row["std_error"]), float(row["df"]), float(row["p_value"]),
                f"fit_mmrm {fit.structure}")
    except (MMRMError, np.linalg.LinAlgError) as error:
        return (np.nan, np.nan, np.nan, np.nan, f"failed: {str(error).split(';')[0][:80]}")


def fit_trials(trials: MonotoneTrials, plan: PowerPlan) -> pd.DataFrame:
    """Analyse each trial with the primary MMRM: the batched fit
    (:func:`~pilottrial.models.mmrm.monotone.fit_monotone_batch`), and ``fit_mmrm`` with the fallback
    chain for the trials the batch could not fit.

    Returns ``estimate, std_error, df, p_value, fitter`` (one row per trial); a trial no
    structure fits has NaN and ``fitter`` "failed: ...".
    """
    batch = fit_monotone_batch(trials, plan.visit_index)
    out = pd.DataFrame({"estimate": batch.estimate, "std_error": batch.std_error, "df": batch.df,
                        "p_value": batch.p_value, "fitter": "batch us"})
    for t in np.flatnonzero(batch.status != 0):
        values = _fit_one(trial_frame(trials, t, plan), plan)
        out.loc[t, ["estimate", "std_error", "df", "p_value", "fitter"]] = list(values)
    return out


def simulate_chunk(plan: PowerPlan, effect_index: int, n_per_arm: int, start: int, stop: int) -> pd.DataFrame:
    """Simulate and analyse simulations ``start .. stop - 1`` of one effect and n per arm."""
    effect = plan.effects[effect_index]
    trials = simulate_trials(plan, n_per_arm, effect["value"], trial_streams(plan.seed, n_per_arm, start, stop))
    fits = fit_trials(trials, plan)
    fits.insert(0, "simulation", np.arange(start, stop))
    fits.insert(0, "n_per_arm", n_per_arm)
    fits.insert(0, "effect", effect["value"])
    fits.insert(0, "effect_source", effect["source"])
    fits["significant"] = (fits["p_value"] < plan.alpha).astype(int)
    return fits[SHARD_COLUMNS]


def shard_tasks(plan: PowerPlan, shard_index: int, n_shards: int) -> list:
    """Chunks ``(effect index, n per arm, start, stop)`` of shard ``shard_index`` (0-based) of
    ``n_shards``: every ``n_shards``-th chunk of the list ordered by effect, n, start."""
    if not 0 <= shard_index < n_shards:
        raise ValueError(f"shard {shard_index} is not in 0..{n_shards - 1}")
    chunks = [(e, n, s, min(s + CHUNK, plan.n_sims)) for e in range(len(plan.effects))
              for n in plan.n_per_arm for s in range(0, plan.n_sims, CHUNK)]
    return chunks[shard_index::n_shards]


def simulate_shard(plan: PowerPlan, shard_index: int, n_shards: int, progress=None) -> pd.DataFrame:
    """Run shard ``shard_index`` of ``n_shards`` (see :func:`shard_tasks`).

    ``progress(message)`` is called after each chunk with the simulations done, the total and
    the elapsed time. Returns one row per simulated trial (:data:`SHARD_COLUMNS`); no row for
    a plan the pilot could not give (``plan.not_estimable``).
    """
    if not plan.estimable:
        if progress is not None:
            progress(f"shard {shard_index + 1}/{n_shards}: nothing to simulate ({plan.not_estimable})")
        return pd.DataFrame({c: pd.Series(dtype=float) for c in SHARD_COLUMNS})
    tasks = shard_tasks(plan, shard_index, n_shards)
    total = sum(stop - start for _, _, start, stop in tasks)
    done, began, frames = 0, time.perf_counter(), []
    for e, n, start, stop in tasks:
        frames.append(simulate_chunk(plan, e, n, start, stop))
        done += stop - start
        if progress is not None:
            elapsed = time.perf_counter() - began
            failed = int(frames[-1]["fitter"].str.startswith("failed").sum())
            progress(f"shard {shard_index + 1}/{n_shards}: {done}/{total} simulations "
                     f"({plan.effects[e]['source']}, n per arm {n}, simulations {start}-{stop - 1}"
                     f"{f', {failed} failed' if failed else ''}) {elapsed:.1f} s")
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in SHARD_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def combine_shards(frames, plan: PowerPlan) -> pd.DataFrame:
    """Concatenate shard tables, check that each (effect, n, simulation) is there exactly
    once, and sort them by effect (plan order), n and simulation. A plan the pilot could not
    give has no simulation: the table is empty."""
    frames = [f for f in frames if len(f)]
    sims = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SHARD_COLUMNS)
    if not plan.estimable:
        return sims[SHARD_COLUMNS].iloc[:0]
    sources = [e["source"] for e in plan.effects]
    key = ["effect_source", "n_per_arm", "simulation"]
    dup = sims.duplicated(key)
    if dup.any():
        raise ValueError(f"{int(dup.sum())} simulations appear in more than one shard (first: "
                         f"{sims.loc[dup, key].iloc[0].to_dict()}); rerun the shards with one plan")
    expected = pd.MultiIndex.from_product([sources, plan.n_per_arm, range(plan.n_sims)], names=key)
    have = pd.MultiIndex.from_frame(sims[key].astype({"n_per_arm": int, "simulation": int}))
    missing = expected.difference(have)
    if len(missing):
        raise ValueError(f"{len(missing)} simulations are missing from the shards (first: {missing[0]}); "
                         f"run every shard of the same plan")
    sims = sims.assign(_order=sims["effect_source"].map({s: i for i, s in enumerate(sources)}))
    sims = sims.sort_values(["_order", "n_per_arm", "simulation"]).drop(columns="_order").reset_index(drop=True)
    sims["n_per_arm"] = sims["n_per_arm"].astype(int)
    sims["simulation"] = sims["simulation"].astype(int)
    sims["significant"] = sims["significant"].astype(int)
    return sims[SHARD_COLUMNS]
