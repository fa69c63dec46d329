r"""The power settings of a config and the plan of the simulations, from the pilot's estimates.

:func:`power_settings` reads the ``power:`` block with its defaults; :func:`pilot_plan` fits the
pilot's primary MMRM and turns its estimates into a :class:`PowerPlan`: the covariance of the
change across visits (optionally inflated to an upper confidence limit of the SD), the baseline
slope, the reference arm's adjusted means, the differences between the arms, each arm's
monotone dropout, and the effects to power the trial for.

Three or more arms
    The plan is for one comparison (``power.comparison``, default the first of
    ``Trial.comparisons``): the pilot's MMRM of all arms gives the covariance, the baseline
    slope and that comparison's differences; its two arms' means and dropout are simulated. The
    definitive trial is taken to keep all k arms with n per arm and to test its m comparisons
    with the trial's ``analysis.arm_adjustment``, so the comparison is tested at the
    per-comparison level of that adjustment (:func:`comparison_alpha`): ``dunnett`` -- the
    two-sided level whose critical value is Dunnett's (vs_reference) or Tukey's (all_pairs)
    for m comparisons with equal n, df infinite; ``holm`` -- Bonferroni's alpha / m (Holm's
    first step, so the power is a lower bound); ``none`` -- alpha.

References
----------
Browne RH (1995). On the use of a pilot sample for sample size determination. Stat Med
14:1933-1940.
Sim J, Lewis M (2012). The size of a pilot study for a clinical trial should be calculated in
relation to considerations of precision and efficiency. J Clin Epidemiol 65:301-308.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.errors import InputError
from pilottrial.planning.options import DEFAULT_GRID, EFFECT_SOURCES, INFLATIONS, MIN_N_PER_ARM, power_settings

__all__ = ["PowerPlan", "power_settings", "pilot_plan", "example_plan", "not_estimable_plan", "comparison_alpha",
           "DEFAULT_GRID", "EFFECT_SOURCES", "INFLATIONS", "MIN_N_PER_ARM"]

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
    not_estimable: str = ""
    #: Three or more arms: the comparison planned for (``Comparison.name``) and the adjustment
    #: that gives ``alpha`` (:func:`comparison_alpha`); empty for two arms.
    comparison: str = ""
    adjustment: dict = field(default_factory=dict)

    @property
    def estimable(self) -> bool:
        """False when the pilot could not give a plan (``not_estimable`` says why): nothing is
        simulated and the sample-size table says why (:func:`pilottrial.planning.power_curve`)."""
        return not self.not_estimable

    @property
    def visit_index(self) -> int:
        return self.visits.index(self.visit)

    @property
    def retention(self) -> np.ndarray:
        """(2, m): probability of being observed at each visit, per arm."""
        return np.cumprod(1.0 - np.asarray(self.hazard, dtype=float), axis=1)

    def describe(self) -> str:
        """One line for a log: what is simulated, or why nothing is."""
        if not self.estimable:
            return f"plan: {self.outcome} at {self.visit}: {self.not_estimable}"
        effects = [(e["source"], round(e["value"], 3)) for e in self.effects]
        return (f"plan: {self.outcome} at {self.visit}; effects {effects}; n per arm {self.n_per_arm}; "
                f"{self.n_sims} simulations each; variance inflation {self.variance_inflation} "
                f"(x{self.inflation_factor:.3f})")

    def to_json(self, path=None) -> str:
        fields = asdict(self)
        for name in ("not_estimable", "comparison", "adjustment"):  # two-arm plans are written as they always were
            if not fields[name]:
                del fields[name]
        text = json.dumps(fields, indent=2, sort_keys=True, allow_nan=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, path_or_text) -> PowerPlan:
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


def comparison_alpha(alpha: float, n_arms: int, mode: str = "vs_reference", adjustment: str = "dunnett") -> dict:
    r"""The two-sided level at which one comparison of a k-arm definitive trial is tested.

    Parameters
    ----------
    alpha : float
        Family-wise two-sided level.
    n_arms : int
        k, the arms of the definitive trial (n per arm each).
    mode : {"vs_reference", "all_pairs"}
        The comparisons: :math:`m = k - 1` treatments vs the reference, or all
        :math:`m = k(k-1)/2` pairs.
    adjustment : {"dunnett", "holm", "none"}
        ``analysis.arm_adjustment``.

    Returns
    -------
    dict
        ``method`` (``"dunnett"``, ``"tukey"``, ``"bonferroni"`` or ``"none"``), ``comparisons``
        (m), ``nominal_alpha``, ``alpha`` (the per-comparison level) and ``critical_z``.

    Notes
    -----
    ``dunnett``, vs_reference: the critical value :math:`c` of :math:`\max_i |Z_i|` for m
    equicorrelated standard normals with :math:`\rho = 1/2` (equal n: each comparison shares
    the reference arm), :math:`P(\max_i |Z_i| \le c) = \int \phi(z) \{\Phi((c + \sqrt\rho z)
    / \sqrt{1-\rho}) - \Phi((-c + \sqrt\rho z)/\sqrt{1-\rho})\}^m dz = 1 - \alpha` (Dunnett
    1955, df infinite: the definitive trial is large); all_pairs: Tukey's
    :math:`c = q_{1-\alpha; k, \infty}/\sqrt2` (studentized range). The level is
    :math:`2\{1 - \Phi(c)\}`. ``holm``: :math:`\alpha/m` (the first step of Holm's procedure;
    Bonferroni). ``none``: :math:`\alpha`.

    References
    ----------
    Dunnett CW (1955). A multiple comparison procedure for comparing several treatments with a
    control. J Am Stat Assoc 50:1096-1121.

    Examples
    --------
    >>> round(comparison_alpha(0.05, 3)["critical_z"], 3)  # Dunnett's table, 2 comparisons, df infinite: 2.21
    2.212
    """
    from scipy import integrate, optimize, stats

    m = n_arms - 1 if mode == "vs_reference" else n_arms * (n_arms - 1) // 2
    if adjustment == "none" or m <= 1:
        method, level = "none" if adjustment == "none" else adjustment, alpha
    elif adjustment == "holm":
        method, level = "bonferroni", alpha / m
    elif mode == "all_pairs":
        method = "tukey"
        level = 2.0 * stats.norm.sf(stats.studentized_range.ppf(1.0 - alpha, n_arms, np.inf) / math.sqrt(2.0))
    else:
        rho = 0.5

        def coverage(c):
            def inner(z):
                shift = math.sqrt(rho) * z
                width = stats.norm.cdf((c + shift) / math.sqrt(1 - rho)) - stats.norm.cdf((-c + shift) / math.sqrt(1 - rho))
                return stats.norm.pdf(z) * width ** m
            return integrate.quad(inner, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0] - (1.0 - alpha)

        z_bonferroni = stats.norm.isf(alpha / (2 * m))
        method = "dunnett"
        level = 2.0 * stats.norm.sf(optimize.brentq(coverage, stats.norm.isf(alpha / 2), z_bonferroni, xtol=1e-12))
    return {"method": method, "comparisons": int(m), "nominal_alpha": float(alpha), "alpha": float(level),
            "critical_z": float(stats.norm.isf(level / 2))}


def _pair_of(trial: Trial, settings: dict):
    """(the comparison planned for, its adjustment dict); (None, {}) for two arms."""
    if not trial.is_multi_arm:
        return None, {}
    comparison = next(c for c in trial.comparisons if c.name == settings["comparison"])
    return comparison, comparison_alpha(settings["alpha"], trial.n_arms, trial.comparison_mode, trial.arm_adjustment)


def not_estimable_plan(config: dict, reason: str, source="config") -> PowerPlan:
    """The plan of a pilot that gives none: the config's settings, no pilot estimates, and
    ``not_estimable`` = "not estimable: <reason>". Effects whose size the config gives (the
    MCID, a number of points) keep it; the pilot's own are None."""
    from pilottrial.analyses.common import not_estimable

    trial = Trial.from_config(config)
    settings = power_settings(config, source)
    comparison, adjustment = _pair_of(trial, settings)
    spec = trial.outcome(settings["outcome"])
    sign = -1.0 if spec.better == "lower" else 1.0
    effects = []
    for e in settings["effect"]:
        if e == "mcid":
            effects.append({"source": "mcid", "value": sign * float(spec.mcid)})
        elif e in ("pilot", "pilot_conservative"):
            effects.append({"source": e, "value": None})
        else:
            effects.append({"source": f"fixed {float(e):g}", "value": float(e)})
    return PowerPlan(
        outcome=settings["outcome"], arms=list(comparison.arms if comparison else trial.arms), visits=[],
        visit=settings["visit"], sigma=[],
        pilot_sigma=[], variance_inflation=settings["variance_inflation"], inflation_factor=1.0,
        reference_means=[], differences=[], baseline_slope=0.0, baseline_mean=0.0, baseline_sd=0.0,
        hazard=[[], []], effects=effects, alpha=adjustment.get("alpha", settings["alpha"]),
        target_power=settings["target_power"],
        n_per_arm=settings["n_per_arm"], n_sims=settings["n_sims"], seed=settings["seed"],
        fallback=list(trial.section("analysis").get("fallback") or []), not_estimable=not_estimable(reason),
        comparison=comparison.name if comparison else "", adjustment=adjustment)


def _finite(plan: PowerPlan) -> bool:
    """Every number a simulation uses is finite."""
    numbers = [plan.sigma, plan.reference_means, plan.differences, plan.baseline_slope, plan.baseline_mean,
               plan.baseline_sd, plan.hazard, [e["value"] for e in plan.effects],
               [v for v in plan.pilot.values() if not isinstance(v, str)]]
    flat = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in numbers])
    return bool(np.all(np.isfinite(flat)))


def pilot_plan(analysis: pd.DataFrame, config: dict, source="config") -> PowerPlan:
    """Fit the pilot's primary MMRM and build the :class:`PowerPlan` (see the module docstring).

    Parameters
    ----------
    analysis : the tidy analysis table (``participant, arm, visit, outcome, baseline, score,
        change``).
    config : the validated config; its ``power`` block is read by :func:`power_settings`.

    Returns
    -------
    The plan; when the pilot cannot give one (its MMRM does not fit, the outcome has no data
    at ``power.visit``, an estimate or SD that is not finite) the plan of
    :func:`not_estimable_plan`, which says why.

    Notes
    -----
    Variance inflation ``uclXX``: the covariance is multiplied by :math:`\\nu/\\chi^2_{1-\\gamma,\\nu}`
    so that the SD at the tested visit is the upper one-sided :math:`\\gamma` confidence limit of the
    pilot's (Browne 1995; Sim & Lewis 2012), :math:`\\nu` = participants with a change at that
    visit minus 3 (the residual df of the ANCOVA there).
    """
    # imported here: a job that only reads a plan (the simulations) needs no model fitting
    from pilottrial.models.frame import model_frame
    from pilottrial.models.mmrm import MMRMError

    trial = Trial.from_config(config)
    settings = power_settings(config, source)
    if trial.response != "change":
        raise InputError("power planning simulates the change from baseline", file=source,
                         column="analysis.response", fix="use analysis.response: change, or power.enabled: false")
    outcome, visit = settings["outcome"], settings["visit"]
    measured = [str(v) for v in model_frame(analysis, outcome, config)["visit"].cat.categories]
    if visit not in measured:
        return not_estimable_plan(config, f"{outcome} has no change from baseline at power.visit {visit}", source)
    try:
        plan = _fitted_plan(analysis, config, trial, settings)
    except (MMRMError, np.linalg.LinAlgError, ValueError) as exc:
        return not_estimable_plan(config, f"the pilot's MMRM of {outcome} gives no plan ({exc})", source)
    if not _finite(plan):
        return not_estimable_plan(config, f"the pilot's MMRM of {outcome} gives an estimate, SE, df or covariance "
                                          f"that is not finite", source)
    return plan


def _fitted_plan(analysis: pd.DataFrame, config: dict, trial: Trial, settings: dict) -> PowerPlan:
    """The plan of :func:`pilot_plan` from the fitted pilot MMRM (raises what the fit raises).
    Three or more arms: the MMRM of all arms, the comparison's two arms simulated."""
    from scipy import special  # the t and chi-squared quantiles of scipy.stats, without importing it

    from pilottrial.models.frame import model_frame
    from pilottrial.models.primary import fit_outcome_mmrm

    comparison, adjustment = _pair_of(trial, settings)
    arms = list(comparison.arms if comparison else trial.arms)
    outcome = settings["outcome"]
    fit = fit_outcome_mmrm(analysis, outcome, config)
    visits = list(fit.visits)
    if settings["visit"] not in visits:
        raise ValueError(f"the MMRM has no visit {settings['visit']}")
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
    half = special.stdtrit(df, 0.5 + settings["conservative_level"] / 2) * se  # scipy.stats.t.ppf
    conservative = est - math.copysign(half, est)
    frame = model_frame(analysis, outcome, config)
    participants = analysis[analysis["outcome"] == outcome].drop_duplicates("participant")
    baseline = participants["baseline"].dropna().to_numpy(dtype=float)
    n_at_visit = int(frame.loc[frame["visit"] == settings["visit"], "participant"].nunique())
    level = INFLATIONS[settings["variance_inflation"]]
    factor = 1.0
    if level is not None:
        nu = max(n_at_visit - 3 - (trial.n_arms - 2), 1)  # the residual df of the ANCOVA of all arms
        factor = float(nu / (2.0 * special.gammaincinv(nu / 2.0, 1.0 - level)))  # scipy.stats.chi2.ppf
    spec = trial.outcome(outcome)
    sign = -1.0 if spec.better == "lower" else 1.0
    effects = []
    for e in settings["effect"]:
        if e == "mcid":
            effects.append({"source": "mcid", "value": sign * float(spec.mcid)})
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
        hazard=hazard, effects=effects, alpha=adjustment.get("alpha", alpha), target_power=settings["target_power"],
        n_per_arm=settings["n_per_arm"], n_sims=settings["n_sims"], seed=settings["seed"],
        fallback=list(trial.section("analysis").get("fallback") or []),
        comparison=comparison.name if comparison else "", adjustment=adjustment,
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
