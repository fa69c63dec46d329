"""The generated sentence of a treatment contrast: "At 24 hours, CAPS-5 improved by ...".

Summary, outcome sections and the crossover report state each key result in the same words,
generated from the contrast row so that the text and the tables cannot disagree.
"""

from __future__ import annotations

import pandas as pd

from pilottrial.config.trial import Outcome, Trial
from pilottrial.report.format import (
    ESTIMATE_DECIMALS,
    arm_label,
    as_float,
    fmt_ci,
    fmt_num,
    fmt_p,
    not_estimable_reason,
    visit_label,
)
from pilottrial.report.sections.context import ci_level, df_label

__all__ = ["key_result_sentence", "contrast_sentence", "ARM_ADJUSTMENT_NAMES"]


def key_result_sentence(config: dict, outcome: dict | Outcome, visit: str, row: pd.Series | dict | None) -> str:
    """One generated sentence for an outcome at a visit (MMRM contrast).

    Parameters
    ----------
    config : dict
        Trial configuration.
    outcome : dict or Outcome
        The outcome's config entry (``name``, ``better``, ...) or the typed outcome.
    visit : str
        Visit label; a number with a unit is written out ("30d" -> "30 days").
    row : pandas.Series, dict or None
        The contrast row (``estimate, ci_lower, ci_upper, df, p_value``); ``None`` when no
        contrast is available.

    Returns
    -------
    str
        E.g. "At 24 hours, CAPS-5 improved by 12.30 more points with ketamine than with
        midazolam (difference in mean change −12.30 points; 95% CI −19.89 to −4.71;
        Satterthwaite df 24.0; p = 0.003)."
    """
    typed = outcome if isinstance(outcome, Outcome) else Outcome.from_spec(outcome)
    return contrast_sentence(Trial.from_config(config), typed, visit, row)


#: How the report names the adjustment across the comparisons of a trial with three or more arms.
ARM_ADJUSTMENT_NAMES = {"dunnett": "Dunnett-adjusted", "holm": "Holm-adjusted", "none": "unadjusted"}


def contrast_sentence(trial: Trial, outcome: Outcome, visit: str, row: pd.Series | dict | None,
                      adjustment: str | None = None) -> str:
    """:func:`key_result_sentence` for a typed trial and outcome.

    ``adjustment`` (``dunnett``, ``holm``; three or more arms, where ``trial`` is the two-arm view of
    one comparison, :meth:`~pilottrial.config.Trial.pair`) adds the interval and p value adjusted
    across the comparisons (``ci_lower_adjusted, ci_upper_adjusted, p_value_adjusted``).
    """
    reference, treatment = (arm_label(a) for a in trial.arms)
    name = outcome.name
    when = visit_label(visit)
    if row is None:
        return f"At {when}, no {name} contrast is available."
    est = as_float(row.get("estimate"))
    if est is None:
        reason = not_estimable_reason(row)
        return (f"At {when}, the {name} difference between {treatment} and {reference} could not be estimated"
                + (f" ({reason})." if reason else "."))
    measure = "mean score" if trial.response == "raw" else "mean change"
    better = outcome.better
    magnitude = fmt_num(abs(est), ESTIMATE_DECIMALS)
    if better in ("lower", "higher") and fmt_num(est, ESTIMATE_DECIMALS) != fmt_num(0, ESTIMATE_DECIMALS):
        favours = (est < 0) if better == "lower" else (est > 0)
        verb = "improved" if favours else "worsened"
        lead = f"At {when}, {name} {verb} by {magnitude} more points with {treatment} than with {reference}"
    else:
        lead = (f"At {when}, {name} changed by {fmt_num(est, ESTIMATE_DECIMALS, signed=True)} points more "
                f"with {treatment} than with {reference}")
    details = (
        f"difference in {measure} {fmt_num(est, ESTIMATE_DECIMALS)} points; "
        f"{ci_level(trial)} CI {fmt_ci(row.get('ci_lower'), row.get('ci_upper'), ESTIMATE_DECIMALS)}; "
        f"{df_label(trial)} df {fmt_num(row.get('df'), 1)}; "
        f"{fmt_p(row.get('p_value'))}"
    )
    if adjustment and adjustment != "none" and as_float(row.get("ci_lower_adjusted")) is not None:
        how = ARM_ADJUSTMENT_NAMES.get(adjustment, f"{adjustment}-adjusted")
        return (f"{lead} ({details}); {how} {ci_level(trial)} CI "
                f"{fmt_ci(row.get('ci_lower_adjusted'), row.get('ci_upper_adjusted'), ESTIMATE_DECIMALS)}, "
                f"{fmt_p(row.get('p_value_adjusted'))}.")
    return f"{lead} ({details})."
