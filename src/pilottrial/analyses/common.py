"""What the analyses share: the typed trial from a config, and one outcome's model frame.

Table builders (``sensitivity_analyses``, ``mi_contrasts``, ``responder_table``...) accept the
validated config dict or its :class:`~pilottrial.config.Trial`; :func:`as_trial` turns either
into the ``Trial``. Statistical primitives take one outcome's rows and explicit arguments;
:func:`outcome_frame` codes plain rows the way :func:`pilottrial.models.primary.model_frame`
does, so that a notebook user needs no config.
"""

from __future__ import annotations

import pandas as pd

from pilottrial.config.trial import Trial

__all__ = ["as_trial", "outcome_frame", "is_outcome_frame", "outcome_label"]


def as_trial(config) -> Trial:
    """The :class:`~pilottrial.config.Trial` of a validated config dict (a ``Trial`` is returned as is)."""
    return config if isinstance(config, Trial) else Trial.from_config(config)


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
