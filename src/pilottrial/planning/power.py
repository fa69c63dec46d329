r"""Planning the definitive trial: simulation-based power from the fitted pilot MMRM.

From the pilot, :func:`pilot_plan` takes what a definitive trial with the same visits would
look like -- the covariance of the change across visits and the baseline slope of the primary
MMRM (``change ~ baseline + arm * visit``), the reference arm's adjusted mean change, the
baseline mean and SD, and each arm's monotone dropout (the discrete hazard of a participant's
last observed visit) -- and a target difference at the tested visit (the last key visit by
default): the outcome's MCID, the pilot estimate, or the pilot's conservative confidence bound,
with the option to inflate the pilot's variance to an upper confidence limit of the SD.

For each sample size per arm in a grid, ``n_sims`` trials are simulated and each is analysed
with the primary MMRM (unstructured, REML, Satterthwaite df at the tested visit);
the power is the share of two-sided p-values below ``alpha``, with an exact (Clopper-Pearson)
95% Monte Carlo interval. Beside it, two analytic approximations: Lu, Luo & Chen (2008) for the
MMRM with dropout, and the ANCOVA / two-sample t test of the completers at the tested visit.

The simulations run as shards (:func:`simulate_shard`) whose results :func:`combine_shards`
gathers. The work is cut into chunks of :data:`CHUNK` simulations of one (effect, n); shard
``i`` of ``S`` takes chunks ``i, i + S, ...``; each simulated trial draws from its own random
stream, spawned from the seed by (n per arm, simulation) (:func:`trial_streams`), and is fitted
in a batch made of its chunk only. A trial's result therefore does not depend on the number of
shards, and the gathered results are identical whatever ``S``. The effects share their
streams (common random numbers), so their curves differ by the effect only.

References
----------
Lu K, Luo X, Chen P-Y (2008). Sample size estimation for repeated measures analysis in
randomized clinical trials with missing data. Int J Biostat 4(1):9.
Browne RH (1995). On the use of a pilot sample for sample size determination. Stat Med
14:1933-1940.
Sim J, Lewis M (2012). The size of a pilot study for a clinical trial should be calculated in
relation to considerations of precision and efficiency. J Clin Epidemiol 65:301-308.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.errors import InputError
from pilottrial.models.mmrm import MMRMError, fit_mmrm
from pilottrial.models.mmrm.monotone import MonotoneTrials, fit_monotone_batch

__all__ = [
    "PowerPlan", "power_settings", "pilot_plan", "example_plan", "trial_streams", "simulate_trials",
    "trial_frame", "fit_trials", "simulate_chunk", "shard_tasks", "simulate_shard", "shard_resources",
    "combine_shards", "power_curve", "lu_variance_factor", "analytic_power", "analytic_sample_size",
    "smallest_n", "clopper_pearson", "planning_summary", "CHUNK", "DEFAULT_GRID", "METHODS",
    "SHARD_COLUMNS", "CURVE_COLUMNS", "SAMPLE_SIZE_COLUMNS",
]

#: Simulations per chunk: the unit of work of a shard and the batch of one fit.
CHUNK = 100
DEFAULT_GRID = [20, 30, 40, 50, 60, 80, 100, 120, 150, 200]
EFFECT_SOURCES = ("mcid", "pilot", "pilot_conservative")
INFLATIONS = {"none": None, "ucl80": 0.80, "ucl90": 0.90, "ucl95": 0.95}
#: ``method`` values of the power curve, with their labels.
METHODS = {
    "simulation": "Simulation, MMRM (Satterthwaite)",
    "analytic_mmrm": "Analytic, MMRM with dropout (Lu, Luo & Chen 2008)",
    "analytic_t": "Analytic, ANCOVA / t test of completers",
}
SHARD_COLUMNS = ["effect_source", "effect", "n_per_arm", "simulation", "estimate", "std_error", "df",
                 "p_value", "significant", "fitter"]
CURVE_COLUMNS = ["n_per_arm", "power", "mc_lower", "mc_upper", "n_sims", "effect", "method",
                 "effect_source", "n_failed"]
SAMPLE_SIZE_COLUMNS = ["effect_source", "effect", "target_power", "method", "n_per_arm", "power",
                       "mc_lower", "mc_upper", "reached"]
FORMULA = "change ~ baseline + arm * visit"
FALLBACK_OPTIMIZERS = ("scoring", "BFGS")
MIN_N_PER_ARM = 10


# ------------------------------------------------------------------------------------------
# settings and plan
# ------------------------------------------------------------------------------------------
def power_settings(config: dict, source="config") -> dict:
    """The ``power:`` block of a config with every default filled in and checked.

    Keys (defaults): ``enabled`` (false), ``outcome`` (the primary outcome), ``visit`` (the last
    key visit), ``effect`` (``[mcid]``; any of ``mcid, pilot, pilot_conservative`` or a number
    of points, as a list or a single value), ``conservative_level`` (0.8: the pilot's 80% CI
    bound nearest no effect), ``variance_inflation`` (``none``; ``ucl80, ucl90, ucl95``: the
    covariance scaled so that the SD is its upper confidence limit), ``dropout`` (``pilot`` or
    ``none``), ``n_per_arm`` (:data:`DEFAULT_GRID`), ``n_sims`` (1000), ``shards`` (4),
    ``target_power`` ([0.8, 0.9]), ``alpha`` (``analysis.alpha``), ``seed``
    (``analysis.seed``). Raises :class:`~pilottrial.errors.InputError` naming the key and the fix.
    """
    block = dict(config.get("power") or {})
    analysis = config.get("analysis") or {}
    outcomes = config["outcomes"]
    primary = next((o for o in outcomes if o.get("primary")), outcomes[0])
    settings = {
        "enabled": bool(block.get("enabled", False)),
        "outcome": block.get("outcome") or primary["name"],
        "visit": block.get("visit"),
        "effect": block.get("effect", ["mcid"]),
        "conservative_level": float(block.get("conservative_level", 0.8)),
        "variance_inflation": block.get("variance_inflation", "none"),
        "dropout": block.get("dropout", "pilot"),
        "n_per_arm": block.get("n_per_arm", list(DEFAULT_GRID)),
        "n_sims": int(block.get("n_sims", 1000)),
        "shards": int(block.get("shards", 4)),
        "target_power": block.get("target_power", [0.8, 0.9]),
        "alpha": float(block.get("alpha", analysis.get("alpha", 0.05))),
        "seed": int(block.get("seed", analysis.get("seed", 20261121))),
    }
    if settings["enabled"] and (config.get("trial") or {}).get("design", "parallel") != "parallel":
        raise InputError("power planning is for two-arm parallel trials", file=source, column="power.enabled",
                         fix="set power.enabled: false for this trial")
    if settings["enabled"] and analysis.get("response", "change") != "change":
        raise InputError("power planning simulates the change from baseline", file=source,
                         column="analysis.response", fix="use analysis.response: change, or power.enabled: false")
    names = [o["name"] for o in outcomes]
    if settings["outcome"] not in names:
        raise InputError(f"power.outcome {settings['outcome']!r} is not an outcome of the config", file=source,
                         column="power.outcome", fix=f"use one of {names}")
    outcome = outcomes[names.index(settings["outcome"])]
    post = list(config["visits"]["order"][1:])
    key = list(config["visits"].get("key") or post)
    settings["visit"] = settings["visit"] or [v for v in post if v in key][-1]
    if settings["visit"] not in post:
        raise InputError(f"power.visit {settings['visit']!r} is not a post-baseline visit", file=source,
                         column="power.visit", fix=f"use one of {post}")
    effects = settings["effect"] if isinstance(settings["effect"], list) else [settings["effect"]]
    effects = list(dict.fromkeys(effects))  # each effect once
    if not effects:
        raise InputError("power.effect is empty", file=source, column="power.effect",
                         fix=f"name at least one of {list(EFFECT_SOURCES)} or give a number of points")
    for e in effects:
        if not (e in EFFECT_SOURCES or (isinstance(e, (int, float)) and not isinstance(e, bool))):
            raise InputError(f"power.effect {e!r} is not known", file=source, column="power.effect",
                             fix=f"use {list(EFFECT_SOURCES)} or a difference in points")
    if "mcid" in effects and outcome.get("mcid") is None:
        raise InputError(f"power.effect mcid, but outcome {outcome['name']!r} has no mcid", file=source,
                         column="outcomes[].mcid",
                         fix="give the outcome its minimal clinically important difference (mcid: points), "
                             "or set power.effect to pilot or a number of points")
    settings["effect"] = effects
    if settings["variance_inflation"] not in INFLATIONS:
        raise InputError(f"power.variance_inflation is {settings['variance_inflation']!r}", file=source,
                         column="power.variance_inflation", fix=f"use one of {list(INFLATIONS)}")
    if settings["dropout"] not in ("pilot", "none"):
        raise InputError(f"power.dropout is {settings['dropout']!r}", file=source, column="power.dropout",
                         fix="use pilot or none")
    grid = settings["n_per_arm"]
    if not grid or any(not isinstance(n, int) or isinstance(n, bool) or n < MIN_N_PER_ARM for n in grid):
        raise InputError(f"power.n_per_arm {grid} must list whole numbers of at least {MIN_N_PER_ARM}", file=source,
                         column="power.n_per_arm", fix="e.g. n_per_arm: [20, 40, 60, 80, 100]")
    settings["n_per_arm"] = sorted(set(grid))
    targets = settings["target_power"]
    targets = targets if isinstance(targets, list) else [targets]
    if not targets or any(not 0 < float(t) < 1 for t in targets):
        raise InputError(f"power.target_power {targets} must be proportions between 0 and 1", file=source,
                         column="power.target_power", fix="e.g. target_power: [0.8, 0.9]")
    settings["target_power"] = sorted(float(t) for t in targets)
    for key_, low in (("n_sims", 1), ("shards", 1)):
        if settings[key_] < low:
            raise InputError(f"power.{key_} is {settings[key_]}", file=source, column=f"power.{key_}",
                             fix=f"use a whole number of at least {low}")
    if not 0 < settings["alpha"] < 0.5 or not 0 < settings["conservative_level"] < 1:
        raise InputError("power.alpha must lie in (0, 0.5) and power.conservative_level in (0, 1)",
                         file=source, column="power", fix="e.g. alpha: 0.05, conservative_level: 0.8")
    return settings


def shard_resources(settings: dict, config: dict | None = None) -> dict:
    """Cluster resources of one shard job: ``runtime`` (minutes) and ``mem_mb``.

    About 4 ms per simulated trial at 4 visits (scaling with the square of the number of
    post-baseline visits of ``config``) plus a part growing with n per arm, with a tenfold
    margin (at least 10 minutes); memory for one chunk's arrays with a fourfold margin above
    1 GB for Python and the libraries.
    """
    n_visits = len(config["visits"]["order"]) - 1 if config else 4
    n_max = max(settings["n_per_arm"])
    trials = math.ceil(len(settings["effect"]) * len(settings["n_per_arm"]) * settings["n_sims"]
                       / settings["shards"])
    seconds = trials * (0.004 + 4e-6 * n_max) * (n_visits / 4) ** 2
    per_participant = (3 + 2 * n_visits + n_visits**2 + 2 * n_visits) * 8
    return {"runtime": max(10, math.ceil(10 * seconds / 60)),
            "mem_mb": 1000 + math.ceil(4 * CHUNK * 2 * n_max * per_participant / 1e6)}


@dataclass
class PowerPlan:
    """Everything the simulations need, from the pilot and the config (JSON-serialisable).

    ``sigma`` is the covariance of the change across ``visits`` used to simulate (the pilot's,
    times ``inflation_factor``); ``hazard[a][j]`` the probability that a participant of arm
    ``a`` (0 = reference) still in the trial misses visit ``j`` and every later one;
    ``differences`` the treatment minus reference differences at each visit, the one at
    ``visit`` being replaced by each effect of ``effects`` (``[{"source", "value"}]``).
    """

    outcome: str
    arms: list
    visits: list
    visit: str
    sigma: list
    pilot_sigma: list
    variance_inflation: str
    inflation_factor: float
    reference_means: list
    differences: list
    baseline_slope: float
    baseline_mean: float
    baseline_sd: float
    hazard: list
    effects: list
    alpha: float
    target_power: list
    n_per_arm: list
    n_sims: int
    seed: int
    fallback: list = field(default_factory=list)
    pilot: dict = field(default_factory=dict)

    @property
    def visit_index(self) -> int:
        return self.visits.index(self.visit)

    @property
    def retention(self) -> np.ndarray:
        """(2, m): probability of being observed at each visit, per arm."""
        return np.cumprod(1.0 - np.asarray(self.hazard, dtype=float), axis=1)

    def to_json(self, path=None) -> str:
        text = json.dumps(asdict(self), indent=2, sort_keys=True, allow_nan=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, path_or_text) -> "PowerPlan":
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            text = Path(path_or_text).read_text(encoding="utf-8")
        return cls(**json.loads(text))


def _dropout_hazard(rows: pd.DataFrame, arms: list, visits: list) -> list:
    """Per arm, the discrete hazard of dropping out before each visit, from each participant's
    last visit with an observed change (intermittent gaps count as observed; a participant
    without any post-baseline change drops out before the first visit)."""
    index = {v: i for i, v in enumerate(visits)}
    seen = rows.dropna(subset=["change"])
    seen = seen[seen["visit"].astype(str).isin(index)]
    last = seen["visit"].astype(str).map(index).groupby(seen["participant"].astype(str)).max()
    hazard = []
    for a in arms:
        people = rows.loc[rows["arm"].astype(str) == a, "participant"].astype(str).unique()
        observed = np.array([last.get(p, -1) for p in people]) + 1  # visits observed (monotone)
        row = []
        for j in range(len(visits)):
            at_risk = np.sum(observed >= j)
            row.append(float(np.sum(observed == j) / at_risk) if at_risk else 0.0)
        hazard.append(row)
    return hazard


def pilot_plan(analysis: pd.DataFrame, config: dict, source="config") -> PowerPlan:
    """Fit the pilot's primary MMRM and build the :class:`PowerPlan` (see the module docstring).

    Parameters
    ----------
    analysis : the tidy analysis table (``participant, arm, visit, outcome, baseline, score,
        change``).
    config : the validated config; its ``power`` block is read by :func:`power_settings`.

    Notes
    -----
    Variance inflation ``uclXX``: the covariance is multiplied by :math:`\\nu/\\chi^2_{1-\\gamma,\\nu}`
    so that the SD at the tested visit is the upper one-sided :math:`\\gamma` confidence limit of the
    pilot's (Browne 1995; Sim & Lewis 2012), :math:`\\nu` = participants with a change at that
    visit minus 3 (the residual df of the ANCOVA there).
    """
    from pilottrial.models.primary import fit_outcome_mmrm, model_frame

    settings = power_settings(config, source)
    if (config.get("analysis") or {}).get("response", "change") != "change":
        raise InputError("power planning simulates the change from baseline", file=source,
                         column="analysis.response", fix="use analysis.response: change, or power.enabled: false")
    arms = [config["arms"]["reference"], config["arms"]["treatment"]]
    outcome = settings["outcome"]
    fit = fit_outcome_mmrm(analysis, outcome, config)
    visits = list(fit.visits)
    if settings["visit"] not in visits:
        raise InputError(f"outcome {outcome!r} has no data at power.visit {settings['visit']!r}", file=source,
                         column="power.visit", fix=f"use one of {visits}")
    alpha = settings["alpha"]
    contrasts = fit.treatment_contrasts("arm", arms[0], arms[1], visit="visit", alpha=alpha)
    differences = [float(x) for x in contrasts["estimate"]]
    if len(visits) > 1:
        means = fit.lsmeans(["arm", "visit"])
        reference = [float(means.loc[(means["arm"] == arms[0]) & (means["visit"] == v), "estimate"].iloc[0])
                     for v in visits]
    else:
        means = fit.lsmeans(["arm"])
        reference = [float(means.loc[means["arm"] == arms[0], "estimate"].iloc[0])]
    at = visits.index(settings["visit"])
    row = contrasts.iloc[at]
    est, se, df = float(row["estimate"]), float(row["std_error"]), float(row["df"])
    half = stats.t.ppf(0.5 + settings["conservative_level"] / 2, df) * se
    conservative = est - math.copysign(half, est)
    frame = model_frame(analysis, outcome, config)
    participants = analysis[analysis["outcome"] == outcome].drop_duplicates("participant")
    baseline = participants["baseline"].dropna().to_numpy(dtype=float)
    n_at_visit = int(frame.loc[frame["visit"] == settings["visit"], "participant"].nunique())
    level = INFLATIONS[settings["variance_inflation"]]
    factor = 1.0
    if level is not None:
        nu = max(n_at_visit - 3, 1)
        factor = float(nu / stats.chi2.ppf(1.0 - level, nu))
    outcome_cfg = next(o for o in config["outcomes"] if o["name"] == outcome)
    sign = -1.0 if outcome_cfg.get("better", "lower") == "lower" else 1.0
    effects = []
    for e in settings["effect"]:
        if e == "mcid":
            effects.append({"source": "mcid", "value": sign * float(outcome_cfg["mcid"])})
        elif e == "pilot":
            effects.append({"source": "pilot", "value": est})
        elif e == "pilot_conservative":
            effects.append({"source": "pilot_conservative", "value": float(conservative)})
        else:
            effects.append({"source": f"fixed {float(e):g}", "value": float(e)})
    sigma = np.asarray(fit.sigmas[0], dtype=float)
    rows = analysis[(analysis["outcome"] == outcome) & (analysis["visit"].astype(str).isin(visits))]
    hazard = (_dropout_hazard(rows, arms, visits) if settings["dropout"] == "pilot"
              else [[0.0] * len(visits), [0.0] * len(visits)])
    return PowerPlan(
        outcome=outcome, arms=arms, visits=visits, visit=settings["visit"],
        sigma=(sigma * factor).tolist(), pilot_sigma=sigma.tolist(),
        variance_inflation=settings["variance_inflation"], inflation_factor=factor,
        reference_means=reference, differences=differences,
        baseline_slope=float(fit.beta[fit.terms.index("baseline")]) if "baseline" in fit.terms else 0.0,
        baseline_mean=float(baseline.mean()), baseline_sd=float(baseline.std(ddof=1)),
        hazard=hazard, effects=effects, alpha=alpha, target_power=settings["target_power"],
        n_per_arm=settings["n_per_arm"], n_sims=settings["n_sims"], seed=settings["seed"],
        fallback=list((config.get("analysis") or {}).get("fallback") or []),
        pilot={"estimate": est, "std_error": se, "df": df,
               "ci_lower": float(row["ci_lower"]), "ci_upper": float(row["ci_upper"]),
               "conservative_level": settings["conservative_level"], "conservative_bound": float(conservative),
               "covariance_structure": fit.structure, "n_participants": int(fit.n_subjects),
               "n_at_visit": n_at_visit, "sd_at_visit": float(np.sqrt(sigma[at, at]))},
    )


def example_plan(n_visits: int = 4, n_per_arm=(100,), n_sims: int = 1000, effect: float = -2.0,
                 hazard: float = 0.05, seed: int = 20240611, alpha: float = 0.05) -> PowerPlan:
    """A plan not taken from a pilot, for tests and benchmarks: SDs rising from 2 to 3.5, an
    unstructured correlation, baseline slope 0.3, the same dropout hazard at each visit after
    the first in both arms, and one fixed ``effect`` at the last visit."""
    m = n_visits
    sd = np.linspace(2.0, 3.5, m)
    lag = np.abs(np.subtract.outer(np.arange(m), np.arange(m)))
    corr = 0.45 + 0.4 * 0.6 ** lag + 0.05 * np.sin(np.add.outer(np.arange(m), np.arange(m)))
    corr[np.diag_indices(m)] = 1.0
    sigma = corr * np.outer(sd, sd)
    visits = [f"V{j + 1}" for j in range(m)]
    rates = [0.0] + [hazard] * (m - 1)
    return PowerPlan(
        outcome="Y", arms=["reference", "treatment"], visits=visits, visit=visits[-1], sigma=sigma.tolist(),
        pilot_sigma=sigma.tolist(), variance_inflation="none", inflation_factor=1.0,
        reference_means=np.linspace(1.0, 4.0, m).tolist(), differences=np.linspace(0.5, 3.0, m).tolist(),
        baseline_slope=0.3, baseline_mean=50.0, baseline_sd=8.0, hazard=[rates, rates],
        effects=[{"source": f"fixed {effect:g}", "value": float(effect)}], alpha=alpha, target_power=[0.8, 0.9],
        n_per_arm=sorted(int(n) for n in n_per_arm), n_sims=int(n_sims), seed=int(seed),
        fallback=["toeph", "ar1", "cs"],
    )


# ------------------------------------------------------------------------------------------
# simulation and fitting
# ------------------------------------------------------------------------------------------
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
    the elapsed time. Returns one row per simulated trial (:data:`SHARD_COLUMNS`).
    """
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


# ------------------------------------------------------------------------------------------
# gathering: power curve and sample size
# ------------------------------------------------------------------------------------------
def clopper_pearson(successes, trials, level: float = 0.95):
    """Exact binomial interval: ``Beta(a/2; x, n-x+1)`` and ``Beta(1-a/2; x+1, n-x)``."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    a = 1.0 - level
    with np.errstate(invalid="ignore"):
        lower = np.where(x > 0, stats.beta.ppf(a / 2, x, n - x + 1), 0.0)
        upper = np.where(x < n, stats.beta.ppf(1 - a / 2, x + 1, n - x), 1.0)
    return lower, upper


def lu_variance_factor(sigma, retention, visit: int) -> float:
    r"""Per-participant variance of one arm's MMRM mean at ``visit`` under monotone dropout.

    .. math::
        n\,\operatorname{Var}(\hat\mu_v) = \sigma_v^2 \sum_{k=1}^{v}
        \frac{\rho^2_{k} - \rho^2_{k-1}}{r_k},

    :math:`r_k` the probability of being observed at visit ``k``, :math:`\rho^2_k` the squared
    multiple correlation of :math:`Y_v` on :math:`Y_1..Y_k` (:math:`\rho^2_0 = 0`,
    :math:`\rho^2_v = 1`): the inverse of the Fisher information of the unstructured model
    (Lu, Luo & Chen 2008, who write it with their inflation factor :math:`\phi = 1/\cdot`).
    """
    sigma = np.asarray(sigma, dtype=float)
    r = np.asarray(retention, dtype=float)
    s_vv = sigma[visit, visit]
    rho2 = [0.0]
    for k in range(visit + 1):
        block = sigma[: k + 1, : k + 1]
        cross = sigma[: k + 1, visit]
        rho2.append(float(cross @ np.linalg.solve(block, cross)) / s_vv)
    rho2[-1] = 1.0
    with np.errstate(divide="ignore"):
        return float(s_vv * sum((rho2[k + 1] - rho2[k]) / r[k] for k in range(visit + 1)))


def analytic_power(plan: PowerPlan, n_per_arm, effect: float, method: str) -> np.ndarray:
    """Approximate power of the two-sided test at the tested visit.

    ``analytic_mmrm``: :math:`\\Phi(|\\Delta|/se - z_{1-\\alpha/2}) + \\Phi(-|\\Delta|/se -
    z_{1-\\alpha/2})`, :math:`se^2 = (v_0 + v_1)/n` with :func:`lu_variance_factor` per arm
    (normal approximation, as Lu et al.). ``analytic_t``: noncentral t for the ANCOVA of the
    expected completers :math:`n r_{a,v}` at the visit, residual SD :math:`\\sqrt{\\Sigma_{vv}}`,
    df :math:`n_0 + n_1 - 3`.
    """
    n = np.asarray(n_per_arm, dtype=float)
    v = plan.visit_index
    sigma = np.asarray(plan.sigma, dtype=float)
    retention = plan.retention
    alpha = plan.alpha
    if method == "analytic_mmrm":
        factor = sum(lu_variance_factor(sigma, retention[a], v) for a in (0, 1))
        z = stats.norm.ppf(1 - alpha / 2)
        shift = abs(effect) / np.sqrt(factor / n)
        return stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z)
    if method == "analytic_t":
        n0, n1 = n * retention[0, v], n * retention[1, v]
        df = np.maximum(n0 + n1 - 3.0, 1.0)
        se = np.sqrt(sigma[v, v] * (1.0 / n0 + 1.0 / n1))
        crit = stats.t.ppf(1 - alpha / 2, df)
        nc = abs(effect) / se
        return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
    raise ValueError(f"method must be analytic_mmrm or analytic_t, not {method!r}")


def analytic_sample_size(plan: PowerPlan, effect: float, target: float, method: str,
                         n_max: int = 1_000_000):
    """Smallest whole n per arm whose :func:`analytic_power` reaches ``target`` (None if
    ``effect`` is 0 or it needs more than ``n_max``)."""
    if effect == 0 or analytic_power(plan, n_max, effect, method) < target:
        return None
    low, high = 1, 2  # power(low) < target <= power(high)
    while analytic_power(plan, high, effect, method) < target:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if analytic_power(plan, mid, effect, method) >= target:
            high = mid
        else:
            low = mid
    return high


def smallest_n(n_per_arm, power, target: float):
    """Smallest n of the grid from which the power reaches ``target`` at every larger n of
    the grid too (a Monte Carlo dip above it does not count as reached); None if never."""
    order = np.argsort(n_per_arm)
    n = np.asarray(n_per_arm)[order]
    p = np.asarray(power, dtype=float)[order]
    answer = None
    for i in range(len(n) - 1, -1, -1):
        if p[i] >= target:
            answer = int(n[i])
        else:
            break
    return answer


def combine_shards(frames, plan: PowerPlan) -> pd.DataFrame:
    """Concatenate shard tables, check that each (effect, n, simulation) is there exactly
    once, and sort them by effect (plan order), n and simulation."""
    frames = [f for f in frames if len(f)]
    sims = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SHARD_COLUMNS)
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


def power_curve(sims: pd.DataFrame, plan: PowerPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The power curve (:data:`CURVE_COLUMNS`) and the smallest n per arm for each target power
    (:data:`SAMPLE_SIZE_COLUMNS`) from the gathered simulations and the analytic formulas.

    Simulated power = significant / ``n_sims``: a trial no covariance structure could fit
    counts as not significant (``n_failed``). ``mc_lower, mc_upper``: 95% Clopper-Pearson.
    """
    rows, sizes = [], []
    for effect in plan.effects:
        sub = sims[sims["effect_source"] == effect["source"]]
        grouped = sub.groupby("n_per_arm")
        hits = grouped["significant"].sum().reindex(plan.n_per_arm).to_numpy(dtype=float)
        count = grouped.size().reindex(plan.n_per_arm).to_numpy(dtype=float)
        failed = grouped["fitter"].apply(lambda s: int(s.str.startswith("failed").sum())).reindex(plan.n_per_arm)
        lower, upper = clopper_pearson(hits, count)
        power = hits / count
        for i, n in enumerate(plan.n_per_arm):
            rows.append({"n_per_arm": n, "power": power[i], "mc_lower": lower[i], "mc_upper": upper[i],
                         "n_sims": int(count[i]), "effect": effect["value"], "method": "simulation",
                         "effect_source": effect["source"], "n_failed": int(failed.iloc[i])})
        for target in plan.target_power:
            n_hat = smallest_n(plan.n_per_arm, power, target)
            i = plan.n_per_arm.index(n_hat) if n_hat is not None else None
            sizes.append({"effect_source": effect["source"], "effect": effect["value"], "target_power": target,
                          "method": "simulation", "n_per_arm": n_hat,
                          "power": power[i] if i is not None else np.nan,
                          "mc_lower": lower[i] if i is not None else np.nan,
                          "mc_upper": upper[i] if i is not None else np.nan,
                          "reached": "yes" if n_hat is not None else f"no (above {max(plan.n_per_arm)})"})
        for method in ("analytic_mmrm", "analytic_t"):
            curve = analytic_power(plan, plan.n_per_arm, effect["value"], method)
            for n, value in zip(plan.n_per_arm, curve):
                rows.append({"n_per_arm": n, "power": float(value), "mc_lower": np.nan, "mc_upper": np.nan,
                             "n_sims": pd.NA, "effect": effect["value"], "method": method,
                             "effect_source": effect["source"], "n_failed": pd.NA})
            for target in plan.target_power:
                n_hat = analytic_sample_size(plan, effect["value"], target, method)
                sizes.append({"effect_source": effect["source"], "effect": effect["value"],
                              "target_power": target, "method": method, "n_per_arm": n_hat,
                              "power": (float(analytic_power(plan, n_hat, effect["value"], method))
                                        if n_hat is not None else np.nan),
                              "mc_lower": np.nan, "mc_upper": np.nan,
                              "reached": "yes" if n_hat is not None else "no"})
    curve = pd.DataFrame(rows)[CURVE_COLUMNS]
    method_order = {m: i for i, m in enumerate(METHODS)}
    source_order = {e["source"]: i for i, e in enumerate(plan.effects)}
    curve = curve.assign(_s=curve["effect_source"].map(source_order), _m=curve["method"].map(method_order))
    curve = curve.sort_values(["_s", "_m", "n_per_arm"]).drop(columns=["_s", "_m"]).reset_index(drop=True)
    for column in ("n_sims", "n_failed"):
        curve[column] = curve[column].astype("Int64")
    sizes = pd.DataFrame(sizes)[SAMPLE_SIZE_COLUMNS]
    sizes["n_per_arm"] = sizes["n_per_arm"].astype("Int64")
    return curve, sizes


def planning_summary(plan: PowerPlan, sample_size: pd.DataFrame) -> list[str]:
    """Plain-text paragraphs for the report section 'Planning the definitive trial'."""
    inflation = ("" if plan.variance_inflation == "none" else
                 f", its variance inflated {plan.inflation_factor:.2f}-fold so that the SD is the upper "
                 f"{plan.variance_inflation[3:]}% confidence limit of the pilot's")
    hazard = np.asarray(plan.hazard)
    retention = plan.retention[:, plan.visit_index]
    p = plan.pilot
    paragraphs = [
        f"Sample size of a definitive trial for {plan.outcome} at {plan.visit}, by simulation from the pilot's "
        f"MMRM: the covariance of the change across visits ({', '.join(plan.visits)}){inflation}, the baseline "
        f"slope, and monotone dropout per arm (retention at {plan.visit}: {retention[0]:.0%} {plan.arms[0]}, "
        f"{retention[1]:.0%} {plan.arms[1]}{'' if hazard.any() else '; no dropout'}). For each n per arm, "
        f"{plan.n_sims} trials were simulated and analysed with the primary MMRM (unstructured covariance, REML, "
        f"Satterthwaite df), two-sided alpha {plan.alpha:g}; power with a 95% Monte Carlo (Clopper-Pearson) "
        f"interval. Analytic approximations beside it: Lu, Luo & Chen (2008) for the MMRM with dropout, and "
        f"the ANCOVA / t test of the completers.",
    ]
    if p:
        paragraphs.append(
            f"Pilot estimate at {plan.visit}: {p['estimate']:.2f} (SE {p['std_error']:.2f}, "
            f"{100 * (1 - plan.alpha):g}% CI {p['ci_lower']:.2f} to {p['ci_upper']:.2f}); the "
            f"{100 * p['conservative_level']:g}% CI bound nearest no effect is {p['conservative_bound']:.2f}.")
    for effect in plan.effects:
        parts = []
        for target in plan.target_power:
            sel = sample_size[(sample_size["effect_source"] == effect["source"])
                              & (sample_size["target_power"] == target)].set_index("method")["n_per_arm"]
            text = ", ".join(f"{label} {'not reached' if pd.isna(sel.get(m)) else int(sel.get(m))}"
                             for m, label in (("simulation", "simulation"), ("analytic_mmrm", "Lu et al."),
                                              ("analytic_t", "t test")))
            parts.append(f"{target:.0%} power: {text}")
        paragraphs.append(f"Effect {effect['source']} ({effect['value']:.2f} points), n per arm for "
                          + "; ".join(parts) + ".")
    return paragraphs
