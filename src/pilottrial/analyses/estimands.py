r"""Estimands (ICH E9(R1)) of a trial, as a table for the report.

An estimand says precisely what treatment effect is estimated: the **population**, the
**variable** (endpoint), the **treatment** conditions compared, how **intercurrent events**
(events after randomization that affect the interpretation or existence of the
measurements, e.g. dropout) are handled -- the **strategy** -- and the **population-level
summary**. :func:`estimand_table` writes one row per outcome x intercurrent event from
``outcomes[].estimand`` in the config and fills what an outcome does not declare with the
defaults that match the analysis pilottrial runs (see :func:`estimand_table`).

References
----------
ICH E9(R1) addendum on estimands and sensitivity analysis in clinical trials to the
guideline on statistical principles for clinical trials. EMA/CHMP/ICH/436221/2017, 2019.
"""

from __future__ import annotations

import pandas as pd

from pilottrial.analyses.common import as_trial, not_estimable, with_note

__all__ = ["ESTIMAND_COLUMNS", "DEFAULT_POPULATION", "DEFAULT_INTERCURRENT_EVENT", "DEFAULT_STRATEGY",
           "estimand_table"]

#: Columns of :func:`estimand_table`.
ESTIMAND_COLUMNS = ["outcome", "population", "variable", "treatment", "intercurrent_event", "strategy",
                    "summary"]
#: Population when an outcome declares none.
DEFAULT_POPULATION = "all randomized participants"
#: Intercurrent event when an outcome declares none.
DEFAULT_INTERCURRENT_EVENT = "treatment discontinuation or dropout (no further assessments)"
#: Strategy for :data:`DEFAULT_INTERCURRENT_EVENT`.
DEFAULT_STRATEGY = "hypothetical (MAR)"


def _arm(label) -> str:
    """An arm in a sentence: a bare code such as ``0`` reads ``arm 0``; a name as it is."""
    text = str(label).strip()
    return f"arm {text}" if text.replace(".", "", 1).lstrip("-").isdigit() else text


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def estimand_table(config, analysis: pd.DataFrame | None = None) -> pd.DataFrame:
    r"""One row per outcome x intercurrent event describing the estimand.

    Parameters
    ----------
    config : dict or Trial
        Validated config: arms, visits (``key``), outcomes with optional ``estimand``
        (``population``, ``variable``, ``intercurrent_events`` = list of ``event`` and
        ``strategy``, ``summary``).
    analysis : pandas.DataFrame, optional
        The analysis table. When given, the default variable and summary of an outcome name
        only the key visits at which it was measured (all its post-baseline visits if it was
        measured at no key visit), and an outcome measured at a single post-baseline visit
        (e.g. imaging at 30 days) is summarised by ANCOVA, as the primary analysis does.

    Returns
    -------
    pandas.DataFrame
        :data:`ESTIMAND_COLUMNS`, outcomes in config order, intercurrent events in declared
        order. Every outcome gets rows, declared or not. When ``analysis`` is given, an
        outcome without any post-baseline score keeps its rows, and a ``note`` column (added
        last when there is such an outcome) says "not estimable: <outcome> has no
        post-baseline score". Three or more arms: one estimand per comparison -- the rows of
        every outcome for the first comparison of ``Trial.comparisons``, then for the next...,
        the ``treatment`` attribute naming that comparison's two arms -- and a last column
        ``comparison`` (``Comparison.name``; not ``treatment``, which is the ICH E9(R1)
        attribute of this table).

    Notes
    -----
    Defaults for what an outcome does not declare:

    * population: ``"all randomized participants"``;
    * variable: ``"change from baseline in <outcome> at <key visits>"`` (``"<outcome> at
      <key visits>"`` when there is no baseline visit);
    * treatment: ``"<treatment> versus <reference>, as randomized"`` (always derived from
      ``arms``; the schema has no treatment attribute);
    * intercurrent event: ``"treatment discontinuation or dropout (no further
      assessments)"`` handled by the **hypothetical strategy under missing at random**
      (``"hypothetical (MAR)"``): the effect had everyone stayed in the trial, assuming that
      the outcomes of those who left follow those of similar participants who stayed, given
      their observed scores. This is what the MMRM on all observed data estimates. An
      outcome whose ``intercurrent_events`` is an empty list gets one row with event
      ``"none"`` and strategy ``"not applicable"``;
    * summary: ``"difference in mean change from baseline at <key visits> (MMRM)"``
      (``"difference in mean score ..."`` without a baseline visit; ``(ANCOVA)`` for an
      outcome measured at one post-baseline visit, known only when ``analysis`` is given).

    Declared values are used verbatim.

    Examples
    --------
    >>> config = {"arms": {"reference": "placebo", "treatment": "drug"},
    ...           "visits": {"baseline": "week0", "order": ["week0", "week4", "week8"], "key": ["week8"]},
    ...           "outcomes": [{"name": "HAM-D"}]}
    >>> row = estimand_table(config).iloc[0]
    >>> print(row["variable"]); print(row["strategy"])
    change from baseline in HAM-D at week8
    hypothetical (MAR)

    References
    ----------
    ICH E9(R1), 2019, sections A.3.1-A.3.3. Mallinckrodt CH, Bell J, Liu G, et al. Aligning
    estimators with estimands in clinical trials: putting the ICH E9(R1) guidelines into
    practice. Ther Innov Regul Sci 2020;54:353-364.
    """
    trial = as_trial(config)
    if trial.is_multi_arm:
        tables = [estimand_table(trial.pair(c), analysis).assign(comparison=c.name) for c in trial.comparisons]
        table = pd.concat(tables, ignore_index=True)
        if "note" in table.columns:  # before the comparison, filled in every block
            notes = table["note"].fillna("")
            table = table.drop(columns=["note", "comparison"]).assign(note=notes, comparison=table["comparison"])
        return table
    reference, treatment = trial.reference, trial.treatment
    key = list(trial.key_visits or trial.visit_order[1:])
    has_baseline = bool(trial.baseline)
    post = list(trial.post_baseline)
    measured = {}
    if analysis is not None:
        scored = analysis[analysis["score"].notna() & analysis["visit"].isin(post)]
        measured = scored.groupby("outcome")["visit"].agg(lambda s: set(s)).to_dict()
    rows, notes = [], []
    for outcome in trial.outcomes:
        name = outcome.name
        # an outcome without any post-baseline score keeps its estimand, which this trial cannot estimate
        note = (not_estimable(f"{name} has no post-baseline score")
                if analysis is not None and name not in measured else "")
        declared = outcome.spec.get("estimand") or {}
        visits_of = key
        model = "MMRM"
        if analysis is not None and name in measured:
            at = [v for v in post if v in measured[name]]
            visits_of = [v for v in key if v in measured[name]] or at
            model = "ANCOVA" if len(at) == 1 else "MMRM"
        when = _join(visits_of)
        variable = (f"change from baseline in {name} at {when}" if has_baseline else f"{name} at {when}")
        summary = (f"difference in mean change from baseline at {when} ({model})" if has_baseline
                   else f"difference in mean score at {when} ({model})")
        base = {
            "outcome": name,
            "population": declared.get("population") or DEFAULT_POPULATION,
            "variable": declared.get("variable") or variable,
            "treatment": f"{_arm(treatment)} versus {_arm(reference)}, as randomized",
            "summary": declared.get("summary") or summary,
        }
        events = declared.get("intercurrent_events")
        if events is None:
            events = [{"event": DEFAULT_INTERCURRENT_EVENT, "strategy": DEFAULT_STRATEGY}]
        elif not events:
            events = [{"event": "none", "strategy": "not applicable"}]
        for e in events:
            rows.append(base | {"intercurrent_event": e["event"], "strategy": e["strategy"]})
            notes.append(note)
    return with_note(pd.DataFrame(rows, columns=ESTIMAND_COLUMNS), notes)
