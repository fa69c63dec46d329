"""The ``power:`` settings of a config, checked, and the cluster resources of a shard job.

Read when the workflow starts (for every trial, on every start), so this module imports
nothing heavy: no numpy, pandas or model code.
"""

from __future__ import annotations

import math

from pilottrial.config.trial import Trial
from pilottrial.errors import InputError

__all__ = ["power_settings", "shard_resources", "DEFAULT_GRID", "EFFECT_SOURCES", "INFLATIONS", "MIN_N_PER_ARM",
           "CHUNK"]

#: Simulations per chunk: the unit of work of a shard and the batch of one fit. A trial's fit does
#: not depend on the batch it is in (tests/planning/test_power.py), so larger batches only save
#: the per-iteration overhead of the batched fit.
CHUNK = 500
#: Default grid of sample sizes per arm.
DEFAULT_GRID = [20, 30, 40, 50, 60, 80, 100, 120, 150, 200]
EFFECT_SOURCES = ("mcid", "pilot", "pilot_conservative")
INFLATIONS = {"none": None, "ucl80": 0.80, "ucl90": 0.90, "ucl95": 0.95}
MIN_N_PER_ARM = 10


def power_settings(config: dict, source="config") -> dict:
    """The ``power:`` block of a config with every default filled in and checked.

    Keys (defaults): ``enabled`` (false), ``outcome`` (the primary outcome), ``visit`` (the last
    key visit), ``effect`` (``[mcid]``; any of ``mcid, pilot, pilot_conservative`` or a number
    of points, as a list or a single value), ``conservative_level`` (0.8: the pilot's 80% CI
    bound nearest no effect), ``variance_inflation`` (``none``; ``ucl80, ucl90, ucl95``: the
    covariance scaled so that the SD is its upper confidence limit), ``dropout`` (``pilot`` or
    ``none``), ``n_per_arm`` (:data:`DEFAULT_GRID`), ``n_sims`` (1000), ``shards`` (4),
    ``target_power`` ([0.8, 0.9]), ``alpha`` (``analysis.alpha``), ``seed``
    (``analysis.seed``). With three or more arms also ``comparison`` (the first of
    ``Trial.comparisons``: the first treatment of ``arms.treatments`` vs the reference), the
    ``Comparison.name`` of the comparison planned for; a two-arm trial's settings have no such
    key (a ``power.comparison`` given there must name its treatment arm). Raises
    :class:`~pilottrial.errors.InputError` naming the key and the fix.
    """
    trial = Trial.from_config(config)
    block = dict(trial.section("power"))
    settings = {
        "enabled": bool(block.get("enabled", False)),
        "outcome": block.get("outcome") or trial.primary.name,
        "visit": block.get("visit"),
        "effect": block.get("effect", ["mcid"]),
        "conservative_level": float(block.get("conservative_level", 0.8)),
        "variance_inflation": block.get("variance_inflation", "none"),
        "dropout": block.get("dropout", "pilot"),
        "n_per_arm": block.get("n_per_arm", list(DEFAULT_GRID)),
        "n_sims": int(block.get("n_sims", 1000)),
        "shards": int(block.get("shards", 4)),
        "target_power": block.get("target_power", [0.8, 0.9]),
        "alpha": float(block.get("alpha", trial.alpha)),
        "seed": int(block.get("seed", trial.section("analysis").get("seed", 20261121))),
    }
    if settings["enabled"] and trial.design != "parallel":
        raise InputError("power planning is for two-arm parallel trials", file=source, column="power.enabled",
                         fix="set power.enabled: false for this trial")
    if settings["enabled"] and trial.response != "change":
        raise InputError("power planning simulates the change from baseline", file=source,
                         column="analysis.response", fix="use analysis.response: change, or power.enabled: false")
    names = [c.name for c in trial.comparisons]
    chosen = block.get("comparison", names[0])
    if chosen not in names:
        raise InputError(f"power.comparison {chosen!r} is not a comparison of the trial", file=source,
                         column="power.comparison",
                         fix=f"name the treatment arm to plan for: one of {names}")
    if trial.is_multi_arm:
        settings["comparison"] = chosen
    names = trial.outcome_names
    if settings["outcome"] not in names:
        raise InputError(f"power.outcome {settings['outcome']!r} is not an outcome of the config", file=source,
                         column="power.outcome", fix=f"use one of {names}")
    outcome = trial.outcome(settings["outcome"])
    post = list(trial.post_baseline)
    key = list(trial.key_visits) or post
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
    if "mcid" in effects and outcome.mcid is None:
        raise InputError(f"power.effect mcid, but outcome {outcome.name!r} has no mcid", file=source,
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
    n_visits = len(Trial.from_config(config).post_baseline) if config else 4
    n_max = max(settings["n_per_arm"])
    trials = math.ceil(len(settings["effect"]) * len(settings["n_per_arm"]) * settings["n_sims"]
                       / settings["shards"])
    seconds = trials * (0.004 + 4e-6 * n_max) * (n_visits / 4) ** 2
    per_participant = (3 + 2 * n_visits + n_visits**2 + 2 * n_visits) * 8
    return {"runtime": max(10, math.ceil(10 * seconds / 60)),
            "mem_mb": 1000 + math.ceil(4 * CHUNK * 2 * n_max * per_participant / 1e6)}
