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

A pilot with three or more arms plans for one comparison (``power.comparison``) of a definitive
trial that keeps all arms, tested at the per-comparison level of ``analysis.arm_adjustment``
(:func:`~pilottrial.planning.settings.comparison_alpha`).

Modules: :mod:`~pilottrial.planning.settings` (the ``power:`` settings and the plan from the
pilot), :mod:`~pilottrial.planning.simulation` (simulated trials, chunks and shards),
:mod:`~pilottrial.planning.analytic` (Lu-Luo-Chen and the t test), :mod:`~pilottrial.planning.curve`
(the power curve and the sample size tables).

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

from pilottrial import lazy_names

#: Where each public name lives; names are imported on first use, so that reading the
#: ``power:`` settings (:mod:`~pilottrial.planning.options`, on every workflow start) loads no
#: numerical code.
_MODULES = {
    "analytic": ["analytic_power", "analytic_sample_size", "lu_variance_factor"],
    "curve": ["CURVE_COLUMNS", "METHODS", "SAMPLE_SIZE_COLUMNS", "clopper_pearson", "planning_summary",
              "power_curve", "smallest_n"],
    "options": ["CHUNK", "DEFAULT_GRID", "power_settings", "shard_resources"],
    "settings": ["PowerPlan", "comparison_alpha", "example_plan", "pilot_plan"],
    "simulation": ["SHARD_COLUMNS", "combine_shards", "fit_trials", "shard_tasks", "simulate_chunk",
                   "simulate_shard", "simulate_trials", "trial_frame", "trial_streams"],
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES)


__all__ = [
    "PowerPlan", "power_settings", "pilot_plan", "comparison_alpha", "example_plan", "trial_streams",
    "simulate_trials",
    "trial_frame", "fit_trials", "simulate_chunk", "shard_tasks", "simulate_shard", "shard_resources",
    "combine_shards", "power_curve", "lu_variance_factor", "analytic_power", "analytic_sample_size",
    "smallest_n", "clopper_pearson", "planning_summary", "CHUNK", "DEFAULT_GRID", "METHODS",
    "SHARD_COLUMNS", "CURVE_COLUMNS", "SAMPLE_SIZE_COLUMNS",
]
