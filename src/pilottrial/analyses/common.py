"""What the analyses share: the typed trial from a config, one outcome's model frame, and how
a result that cannot be estimated is written.

Table builders (``sensitivity_analyses``, ``mi_contrasts``, ``responder_table``...) accept the
validated config dict or its :class:`~pilottrial.config.Trial`; :func:`as_trial` turns either
into the ``Trial``. Statistical primitives take one outcome's rows and explicit arguments;
:func:`outcome_frame` codes plain rows the way :func:`pilottrial.models.primary.model_frame`
does, so that a notebook user needs no config.

Not estimable
    An analysis that cannot be estimated on a valid trial (too few participants, a visit
    without data in one arm, a model that does not fit) is never an error: its rows keep
    their place in the table with NaN numbers and a text column that starts
    ``"not estimable: <reason>"`` (:func:`not_estimable`). Tables that have a note column use
    it; the others get a ``note`` column, last, only when one of their rows is not estimable
    (:func:`with_note`), so that the tables of a trial where everything is estimable keep
    their columns. :func:`not_estimable_lines` lists such rows for a rule's log.

Three or more arms
    Every between-arm result is one row per :class:`~pilottrial.config.Comparison` of the trial
    (``Trial.comparisons``: each treatment minus the reference, or all pairs). The tables of a
    trial with three or more arms end with a ``treatment`` column naming the comparison
    (``Comparison.name``); the tables of a two-arm trial have no such column and are exactly
    what they were before k arms existed. :func:`by_comparison` runs a two-arm table builder
    once per comparison on the data of its two arms (analyses defined on a pair: effect
    sizes, responders, rank tests); models of all arms at once add the column themselves with
    :func:`with_comparison`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial

__all__ = ["as_trial", "outcome_frame", "is_outcome_frame", "outcome_label", "NOT_ESTIMABLE", "not_estimable",
           "is_not_estimable", "reason_of", "with_note", "not_estimable_lines", "example_frame", "with_comparison",
           "by_comparison", "pair_rows"]

#: Start of the note of every row that could not be estimated.
NOT_ESTIMABLE = "not estimable"
_MAX_REASON = 300


def as_trial(config) -> Trial:
    """The :class:`~pilottrial.config.Trial` of a validated config dict (a ``Trial`` is returned as is)."""
    return config if isinstance(config, Trial) else Trial.from_config(config)


def with_comparison(table: pd.DataFrame, trial: Trial, comparison) -> pd.DataFrame:
    """``table`` with a last column ``treatment`` = ``comparison.name`` when the trial has three
    or more arms; a two-arm trial's table is returned unchanged (no column added)."""
    if not trial.is_multi_arm:
        return table
    return table.assign(treatment=comparison.name)


def pair_rows(data: pd.DataFrame, comparison, arm: str = "arm") -> pd.DataFrame:
    """The rows of ``data`` in the two arms of ``comparison`` (a Categorical ``arm`` keeps only those
    two categories, the comparison's reference first)."""
    rows = data[data[arm].astype(str).isin(comparison.arms)]
    if isinstance(data[arm].dtype, pd.CategoricalDtype):
        rows = rows.assign(**{arm: pd.Categorical(rows[arm].astype(str), categories=list(comparison.arms))})
    return rows


def by_comparison(trial: Trial, build, data: pd.DataFrame | None = None, arm: str = "arm") -> pd.DataFrame:
    """Run a two-arm table builder once per comparison and stack the tables.

    ``build(pair_trial, pair_data)`` gets the two-arm view of the trial
    (:meth:`~pilottrial.config.Trial.pair`) and, when ``data`` is given, its rows in those two arms
    (:func:`pair_rows`). Two arms: the builder's table as it is. Three or more: the tables of the
    comparisons in ``trial.comparisons`` order, each with a last column ``treatment``.

    Examples
    --------
    >>> from pilottrial.config import Trial
    >>> trial = Trial.from_config({"trial": {"name": "t"},
    ...                            "arms": {"reference": "placebo", "treatments": ["low", "high"]}})
    >>> data = pd.DataFrame({"arm": ["placebo", "low", "high", "high"], "y": [1.0, 2.0, 4.0, 6.0]})
    >>> by_comparison(trial, lambda pair, rows: rows.groupby("arm", sort=False).y.mean().diff()
    ...               .dropna().rename("difference").to_frame().reset_index(drop=True), data)
       difference treatment
    0         1.0       low
    1         4.0      high
    """
    if not trial.is_multi_arm:
        return build(trial, data) if data is not None else build(trial, None)
    tables, names = [], []
    for comparison in trial.comparisons:
        rows = pair_rows(data, comparison, arm) if data is not None else None
        table = build(trial.pair(comparison), rows)
        tables.append(table)
        names += [comparison.name] * len(table)
    stacked = pd.concat(tables, ignore_index=True)  # a note column of some comparisons stays before treatment
    if "note" in stacked:
        stacked["note"] = stacked["note"].fillna("")
    return stacked.assign(treatment=names)


def is_outcome_frame(frame: pd.DataFrame, reference, treatment) -> bool:
    """True when ``arm`` is a Categorical ``[reference, treatment]`` and ``visit`` a Categorical
    (the coding of :func:`pilottrial.models.primary.model_frame`)."""
    arm, visit = frame["arm"], frame["visit"]
    return (isinstance(arm.dtype, pd.CategoricalDtype) and list(arm.cat.categories) == [reference, treatment]
            and isinstance(visit.dtype, pd.CategoricalDtype))


def outcome_frame(data: pd.DataFrame, reference, treatment, visits=None) -> pd.DataFrame:
    r"""One outcome's post-baseline rows coded for a model of change from baseline.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows of one outcome with ``participant, arm, visit, baseline, change``.
    reference, treatment : str
        Arm labels; ``arm`` becomes a Categorical with the reference arm first.
    visits : list of str, optional
        Post-baseline visits in time order; rows at other visits (e.g. baseline) are dropped.
        Default: the categories of a Categorical ``visit``, else the visits in order of first
        appearance.

    Returns
    -------
    pandas.DataFrame
        A copy of the rows at ``visits`` with an observed ``change`` and ``baseline``;
        ``visit`` a Categorical of the visits with data, in the order of ``visits``.
        A frame that is coded already (:func:`is_outcome_frame`) is returned unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"participant": ["a", "a", "b", "b"], "arm": ["drug", "drug", "placebo", "placebo"],
    ...                      "visit": ["week0", "week4"] * 2, "baseline": [30.0] * 4,
    ...                      "change": [0.0, -5.0, 0.0, None]})
    >>> frame = outcome_frame(data, "placebo", "drug", visits=["week4"])
    >>> list(frame["participant"]), list(frame["arm"].cat.categories)
    (['a'], ['placebo', 'drug'])
    """
    if is_outcome_frame(data, reference, treatment):
        return data
    if visits is None:
        visit = data["visit"]
        visits = list(visit.cat.categories) if isinstance(visit.dtype, pd.CategoricalDtype) else list(pd.unique(visit))
    frame = data[data["visit"].isin(visits)].dropna(subset=["change", "baseline"]).copy()
    frame["arm"] = pd.Categorical(frame["arm"], [reference, treatment])
    present = set(frame["visit"])
    frame["visit"] = pd.Categorical(frame["visit"], [v for v in visits if v in present])
    return frame


def outcome_label(data: pd.DataFrame, outcome=None) -> str:
    """``outcome`` when given, else the one value of the ``outcome`` column of ``data`` ("" without one)."""
    if outcome is not None:
        return str(outcome)
    if "outcome" not in data.columns or data.empty:
        return ""
    names = pd.unique(data["outcome"].astype(str))
    if len(names) > 1:
        raise ValueError(f"the rows hold several outcomes {list(names)[:5]}; pass the rows of one outcome")
    return str(names[0])


def not_estimable(reason) -> str:
    """The note of a row that cannot be estimated: ``"not estimable: <reason>"``.

    Whitespace in ``reason`` (an exception or a text) is collapsed to single spaces, a reason
    that already starts with "not estimable" is not prefixed twice, and the note is cut to
    300 characters.

    Examples
    --------
    >>> not_estimable("fewer than two participants   in an arm")
    'not estimable: fewer than two participants in an arm'
    """
    text = " ".join(str(reason).split())
    if text.lower().startswith(NOT_ESTIMABLE):
        text = text[len(NOT_ESTIMABLE):].lstrip(" :")
    note = f"{NOT_ESTIMABLE}: {text}"
    return note if len(note) <= _MAX_REASON else note[:_MAX_REASON - 3] + "..."


def is_not_estimable(text) -> bool:
    """True for a note written by :func:`not_estimable`."""
    return isinstance(text, str) and text.startswith(NOT_ESTIMABLE)


def reason_of(note) -> str:
    """The reason of a note (the text after "not estimable: "); "" for a missing note.

    Examples
    --------
    >>> reason_of("not estimable: no data at 30d")
    'no data at 30d'
    """
    if not isinstance(note, str):
        return ""
    text = " ".join(note.split())
    return text[len(NOT_ESTIMABLE):].lstrip(" :") if text.startswith(NOT_ESTIMABLE) else text


def with_note(table: pd.DataFrame, notes, column: str = "note") -> pd.DataFrame:
    """``table`` with ``notes`` (one text per row, "" for none) as a last column ``column`` when
    at least one is not empty; ``table`` unchanged otherwise.

    The tables whose columns have no note keep them when every row is estimable (the columns
    of a trial's tables do not change unless something could not be estimated).

    Examples
    --------
    >>> import pandas as pd
    >>> list(with_note(pd.DataFrame({"x": [1.0, 2.0]}), ["", ""]).columns)
    ['x']
    >>> with_note(pd.DataFrame({"x": [1.0, float("nan")]}), ["", not_estimable("no data")])["note"].tolist()
    ['', 'not estimable: no data']
    """
    notes = ["" if n is None or (isinstance(n, float) and np.isnan(n)) else str(n) for n in notes]
    if len(notes) != len(table):
        raise ValueError(f"{len(notes)} notes for {len(table)} rows")
    if not any(notes):
        return table
    return table.assign(**{column: notes})


def not_estimable_lines(table: pd.DataFrame, name: str, keys=("outcome", "visit", "analysis")) -> list[str]:
    """One line per row of ``table`` with a not-estimable note, for a rule's log:
    ``"<name>: <key values>: not estimable: <reason>"`` (keys that are columns of the table)."""
    lines = []
    for _, row in table.iterrows():
        notes = [value for value in row.to_numpy() if is_not_estimable(value)]
        if notes:
            where = ", ".join(str(row[k]) for k in keys if k in table.columns and pd.notna(row[k]) and str(row[k]))
            lines.append(f"{name}: {where}: {notes[0]}" if where else f"{name}: {notes[0]}")
    return lines


def example_frame(missing: bool = False):
    """A tiny two-arm trial for the docstring examples: 10 participants (5 per arm: placebo,
    drug) x 2 visits (week4, week8), with ``participant, visit, arm, baseline, change``;
    ``missing=True`` removes the week-8 change of P3 (placebo) and P8 (drug)."""
    import pandas as pd

    frame = pd.DataFrame({
        "participant": [f"P{i}" for i in range(10) for _ in range(2)], "visit": ["week4", "week8"] * 10,
        "arm": ["placebo"] * 10 + ["drug"] * 10,
        "baseline": [25, 25, 27, 27, 27, 27, 31, 31, 23, 23, 31, 31, 28, 28, 36, 36, 36, 36, 38, 38],
        "change": [2, 0, -4, -3, 1, -1, 2, 1, -5, -2, -5, -11, -5, -7, -3, -4, -7, -14, -12, -13]})
    if missing:
        frame["change"] = frame["change"].astype(float)
        frame.loc[[7, 17], "change"] = float("nan")
    return frame
