"""Every sensitivity analysis of every efficacy outcome: the table of ``sensitivity.csv``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.analyses.common import as_trial
from pilottrial.analyses.sensitivity.ancova import ancova_complete_case
from pilottrial.analyses.sensitivity.anova import mixed_anova_complete_case
from pilottrial.analyses.sensitivity.gee import gee_bias_reduced
from pilottrial.analyses.sensitivity.other_models import lmm_random_intercept, mmrm_structures
from pilottrial.analyses.sensitivity.randomization import randomization_test
from pilottrial.analyses.sensitivity.rank import mann_whitney
from pilottrial.analyses.sensitivity.rows import SENSITIVITY_COLUMNS, sensitivity_table
from pilottrial.models.frame import model_formula, model_frame

__all__ = ["sensitivity_analyses", "FIXED_ANALYSES"]

#: The analyses of every trial, in the order reported; ``mmrm_<structure>`` rows follow.
FIXED_ANALYSES = ("ancova_complete_case", "mixed_anova_complete_case", "gee_bias_reduced",
                  "randomization_test", "mann_whitney", "lmm_random_intercept")


def sensitivity_analyses(analysis: pd.DataFrame, config, progress=None) -> pd.DataFrame:
    """Every sensitivity analysis of every efficacy outcome at every key visit.

    Analyses, in this order: ``ancova_complete_case``, ``mixed_anova_complete_case``,
    ``gee_bias_reduced``, ``randomization_test``, ``mann_whitney``, ``lmm_random_intercept``,
    then ``mmrm_<structure>`` for each of ``analysis.sensitivity_structures``. Each outcome's
    rows come from its model frame (:func:`pilottrial.models.primary.model_frame`) and the
    primitive of the analysis, with the config's arms, key visits and settings:
    ``analysis.alpha``; ``randomization_draws``, ``seed``, ``covariance``, ``fallback`` and
    ``df_method`` for the randomization test (whose MMRM has the primary model's covariates);
    ``sensitivity_structures`` and ``df_method`` for the other structures.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table of :func:`pilottrial.data.load_trial`.
    config : dict or Trial
        The validated config (or its :class:`~pilottrial.config.Trial`).
    progress : callable, optional
        Called with the cumulative number of re-randomizations done (over the efficacy
        outcomes: ``randomization_draws`` x their number in all) after each chunk of draws.

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS` (``outcome, model,
        visit, estimate, std_error, df, ci_lower, ci_upper, p_value, analysis, note``), one row
        per analysis x efficacy outcome x key visit, sorted by outcome (config order), analysis
        (the order above), visit (visit order). Estimates are treatment minus reference in
        change from baseline. NaN ``std_error``/``df`` for ``mann_whitney`` (rank method);
        other NaNs only in rows whose ``note`` starts with "not estimable".

        Three or more arms: every model (ANCOVA, mixed ANOVA, GEE, the randomization test's
        MMRM and GLS statistic, LMM, MMRM structures) is one model of all arms, from which each
        comparison is taken; the Mann-Whitney test compares each pair on its two arms. The rows
        of each comparison together (``trial.comparisons`` order), inside that sorted as above,
        and a last column ``treatment`` (``Comparison.name``).

    Examples
    --------
    >>> from pilottrial.config import Trial
    >>> from pilottrial.data import load_trial
    >>> trial = Trial.load("config/config.yaml")
    >>> table = sensitivity_analyses(load_trial(trial.config), trial)
    >>> table.groupby("analysis", sort=False).size().to_dict()["randomization_test"]
    6
    """
    trial = as_trial(config)
    settings = trial.section("analysis")
    reference, alpha = trial.reference, settings["alpha"]
    # three or more arms: the primitives take the list of treatment arms and the comparisons
    treatment = list(trial.treatments) if trial.is_multi_arm else trial.treatment
    arms = {"comparisons": list(trial.comparisons)} if trial.is_multi_arm else {}
    key_visits = list(trial.key_visits)
    structures = list(settings["sensitivity_structures"])
    draws, seed = int(settings["randomization_draws"]), int(settings["seed"])
    participants = analysis[["participant", "arm"]]
    tables, done = [], 0
    for outcome in trial.efficacy_outcomes:
        name = outcome.name
        frame = model_frame(analysis, name, trial.config)
        common = {"visits": key_visits, "alpha": alpha, "outcome": name, **arms}
        start = done

        def report(n, start=start):
            nonlocal done
            done = start + n
            progress(done)

        tables += [
            ancova_complete_case(frame, reference, treatment, **common),
            mixed_anova_complete_case(frame, reference, treatment, **common),
            gee_bias_reduced(frame, reference, treatment, **common),
            randomization_test(frame, reference, treatment, participants=participants, draws=draws, seed=seed,
                               covariance=settings["covariance"], fallback=settings.get("fallback"),
                               df_method=settings["df_method"], formula=model_formula(frame, trial.config),
                               progress=None if progress is None else report, **common),
            mann_whitney(frame, reference, treatment, **common),
            lmm_random_intercept(frame, reference, treatment, formula=model_formula(frame, trial.config), **common),
            mmrm_structures(frame, reference, treatment, structures=structures, df_method=settings["df_method"],
                            **common),
        ]
    empty = sensitivity_table([])
    if trial.is_multi_arm:
        empty = empty.assign(treatment=pd.Series(dtype=object))
    table = pd.concat(tables or [empty], ignore_index=True)
    order = {
        "outcome": list(trial.outcome_names),
        "analysis": list(FIXED_ANALYSES) + [f"mmrm_{s}" for s in structures],
        "visit": list(trial.visit_order),
    }
    keys = pd.DataFrame({col: pd.Categorical(table[col], categories=list(dict.fromkeys(levels))).codes
                         for col, levels in order.items()})
    if not trial.is_multi_arm:
        table = table.iloc[np.lexsort((keys["visit"], keys["analysis"], keys["outcome"]))].reset_index(drop=True)
        return table[SENSITIVITY_COLUMNS]
    comparison = pd.Categorical(table["treatment"], categories=[c.name for c in trial.comparisons]).codes
    table = table.iloc[np.lexsort((keys["visit"], keys["analysis"], keys["outcome"], comparison))]
    return table.reset_index(drop=True)[SENSITIVITY_COLUMNS + ["treatment"]]
