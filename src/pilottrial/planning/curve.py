"""The power curve and the sample size tables from the gathered simulations and the formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.planning.analytic import analytic_power, analytic_sample_size
from pilottrial.planning.settings import PowerPlan

__all__ = ["power_curve", "planning_summary", "clopper_pearson", "smallest_n", "METHODS", "CURVE_COLUMNS",
           "SAMPLE_SIZE_COLUMNS"]

#: ``method`` values of the power curve, with their labels.
METHODS = {
    "simulation": "Simulation, MMRM (Satterthwaite)",
    "analytic_mmrm": "Analytic, MMRM with dropout (Lu, Luo & Chen 2008)",
    "analytic_t": "Analytic, ANCOVA / t test of completers",
}
CURVE_COLUMNS = ["n_per_arm", "power", "mc_lower", "mc_upper", "n_sims", "effect", "method",
                 "effect_source", "n_failed"]
SAMPLE_SIZE_COLUMNS = ["effect_source", "effect", "target_power", "method", "n_per_arm", "power",
                       "mc_lower", "mc_upper", "reached"]


def clopper_pearson(successes, trials, level: float = 0.95):
    """Exact binomial interval: ``Beta(a/2; x, n-x+1)`` and ``Beta(1-a/2; x+1, n-x)``."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    a = 1.0 - level
    with np.errstate(invalid="ignore"):
        lower = np.where(x > 0, stats.beta.ppf(a / 2, x, n - x + 1), 0.0)
        upper = np.where(x < n, stats.beta.ppf(1 - a / 2, x + 1, n - x), 1.0)
    return lower, upper


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


def power_curve(sims: pd.DataFrame, plan: PowerPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The power curve (:data:`CURVE_COLUMNS`) and the smallest n per arm for each target power
    (:data:`SAMPLE_SIZE_COLUMNS`) from the gathered simulations and the analytic formulas.

    Simulated power = significant / ``n_sims``: a trial no covariance structure could fit
    counts as not significant (``n_failed``). ``mc_lower, mc_upper``: 95% Clopper-Pearson.

    A plan the pilot could not give (``plan.not_estimable``) gives an empty curve and a
    sample-size table with a row per effect x target power x method, NaN numbers, ``reached``
    "no" and a last column ``note`` saying "not estimable: <reason>".
    """
    if not plan.estimable:
        return _not_estimable_tables(plan)
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


def _not_estimable_tables(plan: PowerPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The empty curve and the sample-size rows that say why of a plan the pilot could not give."""
    curve = pd.DataFrame({c: pd.Series(dtype=float) for c in CURVE_COLUMNS})
    sizes = pd.DataFrame([{"effect_source": e["source"], "effect": np.nan if e["value"] is None else e["value"],
                           "target_power": target, "method": method, "n_per_arm": pd.NA, "power": np.nan,
                           "mc_lower": np.nan, "mc_upper": np.nan, "reached": "no", "note": plan.not_estimable}
                          for e in plan.effects for target in plan.target_power for method in METHODS],
                         columns=SAMPLE_SIZE_COLUMNS + ["note"])
    sizes["n_per_arm"] = sizes["n_per_arm"].astype("Int64")
    return curve, sizes


_ADJUSTMENT_TEXT = {
    "dunnett": "Dunnett's adjustment (two-sided, equal n per arm, large-sample critical value {z:.3f})",
    "tukey": "Tukey's adjustment for all pairs (studentized range, large-sample critical value {z:.3f})",
    "bonferroni": "Bonferroni's adjustment (the first step of Holm's procedure, so the power is a lower bound)",
    "none": "no adjustment across the comparisons",
}


def _comparison_text(plan: PowerPlan) -> str:
    """The paragraph of a plan for one comparison of a trial with three or more arms."""
    a = plan.adjustment
    how = _ADJUSTMENT_TEXT[a["method"]].format(z=a["critical_z"])
    return (f"The pilot has more than two arms: the plan is for {plan.arms[1]} vs {plan.arms[0]} "
            f"(power.comparison), from the pilot's MMRM of all arms. The definitive trial is assumed to keep "
            f"all arms with n per arm and to test its {a['comparisons']} comparisons with {how}: this comparison "
            f"is tested at two-sided {plan.alpha:.4g} (family-wise {a['nominal_alpha']:g}); its two arms are "
            f"simulated. Total sample size: n per arm times the number of arms.")


def planning_summary(plan: PowerPlan, sample_size: pd.DataFrame) -> list[str]:
    """Plain-text paragraphs for the report section 'Planning the definitive trial'."""
    if not plan.estimable:
        return [f"Sample size of a definitive trial for {plan.outcome} at {plan.visit}: {plan.not_estimable}."]
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
    if plan.adjustment:
        paragraphs.append(_comparison_text(plan))
    if p:
        nominal = plan.adjustment.get("nominal_alpha", plan.alpha)
        paragraphs.append(
            f"Pilot estimate at {plan.visit}: {p['estimate']:.2f} (SE {p['std_error']:.2f}, "
            f"{100 * (1 - nominal):g}% CI {p['ci_lower']:.2f} to {p['ci_upper']:.2f}); the "
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
