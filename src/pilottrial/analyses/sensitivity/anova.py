"""Sensitivity analysis 2: mixed (split-plot) ANOVA of the participants complete at every visit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from pilottrial.analyses.sensitivity.rows import (
    FAILURES,
    arm_comparisons,
    comparison_table,
    failed_rows,
    no_follow_up,
    per_visit,
    prepare,
    prepare_arms,
    sensitivity_table,
    t_interval,
)

__all__ = ["mixed_anova_complete_case", "complete_cases"]


def complete_cases(frame: pd.DataFrame, visits: list) -> pd.DataFrame:
    """Rows of participants observed at every one of ``visits``, with plain-string labels.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"participant": ["a", "a", "b"], "arm": ["x", "x", "y"],
    ...                       "visit": ["v1", "v2", "v1"], "change": [1.0, 2.0, 3.0]})
    >>> complete_cases(frame, ["v1", "v2"])["participant"].tolist()
    ['a', 'a']
    """
    counts = frame.groupby("participant", observed=True)["change"].count()
    keep = counts.index[counts == len(visits)]
    complete = frame[frame["participant"].isin(keep)][["participant", "arm", "visit", "change"]].copy()
    for col in ("participant", "arm", "visit"):
        complete[col] = complete[col].astype(str).astype(object)
    return complete.reset_index(drop=True)


def mixed_anova_complete_case(frame: pd.DataFrame, reference: str, treatment, *, visits=None,
                              alpha: float = 0.05, outcome: str | None = None, comparisons=None) -> pd.DataFrame:
    r"""Mixed (split-plot) ANOVA of change on participants complete at every post-baseline visit.

    Parameters
    ----------
    frame, reference, treatment, visits, alpha, outcome
        As :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.
    comparisons : sequence of Comparison, optional
        Three or more arms (``treatment`` a list): as
        :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`.

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS`, one row per visit;
        ``model`` is ``"mixed_anova"``, ``analysis`` ``"mixed_anova_complete_case"``.
        Three or more arms: the rows of each comparison in turn, with a last column
        ``treatment``.

    Notes
    -----
    ``pingouin.mixed_anova(dv="change", within="visit", between="arm", subject="participant",
    correction=True)``: the arm x visit interaction F with the Greenhouse-Geisser correction
    of its degrees of freedom (:math:`\hat\varepsilon\,(k-1)`, :math:`\hat\varepsilon\,(k-1)(n-2)`)
    goes in ``note``. The per-visit arm difference is the difference in mean change,
    :math:`\bar d_T - \bar d_R`, with the Welch standard error
    :math:`\sqrt{s_T^2/n_T + s_R^2/n_R}`, the Welch-Satterthwaite df and p of
    ``pingouin.pairwise_tests(within="visit", between="arm", correction=True)`` (between arms
    within visit, unadjusted), and the t interval on those df.

    Three or more arms: the ANOVA of all arms (the arm x visit interaction F of the :math:`k`
    arms, in every row's ``note``) on the participants complete at every visit, whatever their
    arm; each comparison's per-visit difference is the Welch t of its two arms (the two-arm
    rows of that pair, ``pairwise_tests`` between the two arms at the visit). Every arm needs
    two complete participants.

    No baseline adjustment, and only participants with every visit of ``frame``: the
    classical repeated-measures analysis the MMRM replaces; valid under MCAR. An outcome
    measured at a single post-baseline visit has no within factor (rows of NaN).

    References
    ----------
    Greenhouse SW, Geisser S (1959). On methods in the analysis of profile data.
    Psychometrika 24:95-112.
    Welch BL (1947). The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 34:28-35.
    Vallat R (2018). Pingouin: statistics in Python. JOSS 3(31):1026.

    Examples
    --------
    >>> from pilottrial.analyses.common import example_frame
    >>> frame = example_frame()
    >>> table = mixed_anova_complete_case(frame, "placebo", "drug")
    >>> [(row.visit, round(row.estimate, 2), round(row.df, 2), round(row.p_value, 4)) for row in table.itertuples()]
    [('week4', -5.6, 8.0, 0.0325), ('week8', -8.8, 5.11, 0.0068)]
    """
    arms, comparisons = arm_comparisons(reference, treatment, comparisons)
    if arms is not None:
        return _mixed_anova_arms(frame, arms, comparisons, visits, alpha, outcome)
    frame, visits, outcome = prepare(frame, reference, treatment, visits, outcome)
    measured = list(frame["visit"].cat.categories)
    if len(measured) < 2:
        reason = no_follow_up(frame, outcome) or (f"{outcome} is measured at one post-baseline visit; "
                                                  f"no within-participant factor")
        return sensitivity_table(failed_rows(outcome, "mixed_anova_complete_case", "mixed_anova", visits, reason))
    complete = complete_cases(frame, measured)
    arms = complete.drop_duplicates("participant")["arm"].value_counts()
    if min(arms.get(str(reference), 0), arms.get(str(treatment), 0)) < 2:
        return sensitivity_table(failed_rows(
            outcome, "mixed_anova_complete_case", "mixed_anova", visits,
            f"fewer than two participants complete at every visit in an arm ({arms.get(str(reference), 0)} "
            f"{reference}, {arms.get(str(treatment), 0)} {treatment})"))
    try:
        aov, pairs = _pingouin_anova(complete)
    except FAILURES as exc:
        return sensitivity_table(failed_rows(outcome, "mixed_anova_complete_case", "mixed_anova", visits,
                                             f"the mixed ANOVA of the complete cases failed ({exc})"))
    inter = aov[aov["Source"] == "Interaction"].iloc[0]
    p_gg = inter["p_GG_corr"] if "p_GG_corr" in aov.columns and np.isfinite(inter.get("p_GG_corr", np.nan)) \
        else inter["p_unc"]
    n_complete = complete["participant"].nunique()
    note = (f"complete cases (n = {n_complete}); arm x visit interaction F({inter['DF1']:g}, "
            f"{inter['DF2']:g}) = {inter['F']:.3f}, Greenhouse-Geisser p = {p_gg:.4g} "
            f"(epsilon {inter['eps']:.3f}); per-visit difference: Welch t")
    cells = pairs[pairs["Contrast"] == "visit * arm"].set_index("visit")

    def estimate_at(visit):
        at = complete[complete["visit"] == visit]
        treated = at.loc[at["arm"] == treatment, "change"].to_numpy(float)
        control = at.loc[at["arm"] == reference, "change"].to_numpy(float)
        estimate = treated.mean() - control.mean()
        std_error = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
        cell = cells.loc[visit]
        lower, upper = t_interval(estimate, std_error, cell["dof"], alpha)
        return {"estimate": estimate, "std_error": std_error, "df": cell["dof"], "ci_lower": lower,
                "ci_upper": upper, "p_value": cell["p_unc"], "note": note}

    return sensitivity_table(per_visit(outcome, "mixed_anova_complete_case", "mixed_anova", frame, visits,
                                       estimate_at))


def _pingouin_anova(complete: pd.DataFrame):
    """``pingouin.mixed_anova`` (Greenhouse-Geisser) and ``pairwise_tests`` (between arms within
    visit, Welch, unadjusted) of the complete cases, pingouin's warnings silenced."""
    import pingouin as pg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", category=Warning, module="pingouin")
        warnings.filterwarnings("ignore", message=".*(deprecated|inplace|observed).*")
        aov = pg.mixed_anova(data=complete, dv="change", within="visit", between="arm",
                             subject="participant", correction=True)
        pairs = pg.pairwise_tests(data=complete, dv="change", within="visit", between="arm",
                                  subject="participant", correction=True, padjust="none")
    return aov, pairs


def _mixed_anova_arms(frame, arms, comparisons, visits, alpha, outcome) -> pd.DataFrame:
    """:func:`mixed_anova_complete_case` of three or more arms."""
    frame, visits, outcome = prepare_arms(frame, arms, visits, outcome)
    name, model = "mixed_anova_complete_case", "mixed_anova"

    def failed(reason):
        return comparison_table([(c, failed_rows(outcome, name, model, visits, reason)) for c in comparisons])

    measured = list(frame["visit"].cat.categories)
    if len(measured) < 2:
        return failed(no_follow_up(frame, outcome) or (f"{outcome} is measured at one post-baseline visit; "
                                                       f"no within-participant factor"))
    complete = complete_cases(frame, measured)
    counts = complete.drop_duplicates("participant")["arm"].value_counts()
    if min(counts.get(str(a), 0) for a in arms) < 2:
        return failed("fewer than two participants complete at every visit in an arm ("
                      + ", ".join(f"{counts.get(str(a), 0)} {a}" for a in arms) + ")")
    try:
        aov, pairs = _pingouin_anova(complete)
    except FAILURES as exc:
        return failed(f"the mixed ANOVA of the complete cases failed ({exc})")
    inter = aov[aov["Source"] == "Interaction"].iloc[0]
    p_gg = inter["p_GG_corr"] if "p_GG_corr" in aov.columns and np.isfinite(inter.get("p_GG_corr", np.nan)) \
        else inter["p_unc"]
    note = (f"complete cases (n = {complete['participant'].nunique()}, {len(arms)} arms); arm x visit interaction "
            f"F({inter['DF1']:g}, {inter['DF2']:g}) = {inter['F']:.3f}, Greenhouse-Geisser p = {p_gg:.4g} "
            f"(epsilon {inter['eps']:.3f}); per-visit difference: Welch t of the two arms")
    cells = pairs[pairs["Contrast"] == "visit * arm"]
    blocks = []
    for c in comparisons:
        def estimate_at(visit, c=c):
            at = complete[complete["visit"] == visit]
            treated = at.loc[at["arm"] == str(c.treatment), "change"].to_numpy(float)
            control = at.loc[at["arm"] == str(c.reference), "change"].to_numpy(float)
            estimate = treated.mean() - control.mean()
            std_error = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
            pair = {str(a) for a in c.arms}
            same_pair = np.array([{str(x), str(y)} == pair for x, y in zip(cells["A"], cells["B"])], dtype=bool)
            cell = cells[(cells["visit"].astype(str) == str(visit)).to_numpy() & same_pair]
            if len(cell) != 1:
                raise ValueError(f"pingouin gave no Welch test of {c.label} at {visit}")
            cell = cell.iloc[0]
            lower, upper = t_interval(estimate, std_error, cell["dof"], alpha)
            return {"estimate": estimate, "std_error": std_error, "df": cell["dof"], "ci_lower": lower,
                    "ci_upper": upper, "p_value": cell["p_unc"], "note": note}

        blocks.append((c, per_visit(outcome, name, model, frame, visits, estimate_at)))
    return comparison_table(blocks)
