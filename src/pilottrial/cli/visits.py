"""Visit labels in time order: the parser behind ``pilottrial init``'s visit guesses.

:func:`visit_time` reads where a label falls in time (``baseline``, ``D7``, ``Week 2``, ``24h``,
``week_2_arm_1``, ``V3``, ``follow-up``) and :func:`order_visits` sorts labels by it, whatever
their unit and style.
"""

from __future__ import annotations

import re

__all__ = ["visit_time", "order_visits", "is_visit_label"]


#: Days per time unit (a month is 365.25 / 12 days).
_UNITS = {"min": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}
_UNIT_WORDS = {
    "min": "min|mins|minute|minutes", "h": "h|hr|hrs|hour|hours", "d": "d|dy|day|days",
    "w": "w|wk|wks|week|weeks", "m": "m|mo|mon|mth|month|months", "y": "y|yr|yrs|year|years",
}
_UNIT_OF = {word: unit for unit, words in _UNIT_WORDS.items() for word in words.split("|")}
_NUMBER = r"-?\d+(?:\.\d+)?"
_UNIT = "|".join(sorted(_UNIT_OF, key=len, reverse=True))
_TIMED = re.compile(rf"^(?:(?P<u1>{_UNIT})\s*(?P<n1>{_NUMBER})|(?P<n2>{_NUMBER})\s*(?P<u2>{_UNIT}))"
                    r"(?:\s*(?:post|postdose|after|fu|follow ?up|visit))?$")
_NUMBERED = re.compile(rf"^(?:v|visit|t|tp|time|timepoint|session|wave|assessment|occasion|p|period)?\s*(?P<n>{_NUMBER})$")
_SCREENING = re.compile(r"^(screen|screening|scr|sv)$")
_BASELINE = re.compile(r"^(baseline|base|bl|bsl|pre|pretreatment|pre treatment|pre infusion|preinfusion|predose|"
                       r"pre dose|randomi[sz]ation|enrol+ment|entry|intake|week of baseline)$")
_LATE = re.compile(r"^(post|posttreatment|post treatment|end|end of treatment|eot|eos|end of study|termination|"
                   r"follow ?up|fu|final)$")


def _visit_text(label) -> str:
    """A visit label lower-cased, without a REDCap arm suffix or a parenthesis, ``_``/``-`` as spaces."""
    text = str(label).strip().lower()
    text = re.sub(r"[_ ]arm[_ ]\d+$", "", text)
    text = re.sub(r"\s*\(.*\)\s*$", "", text)
    return re.sub(r"\s+", " ", re.sub(r"[_]|(?<=[a-z])-(?=[a-z])", " ", text)).strip()


def visit_time(label) -> tuple:
    """Where a visit label falls in time, as a sort key ``(group, time, unit)``.

    Groups: 0 screening and baseline (screening first), 1 labels naming a time (a number and a
    unit in either order: ``D1``, ``Day 1``, ``24h``, ``week_2_arm_1``, ``M 3``; ``time`` in
    days, hours and minutes as fractions of a day, a month 30.4375 days), 2 numbered visits
    (``V1``, ``Visit 2``, ``T0``, ``3``: ``time`` the number), 3 end-of-study labels (``post``,
    ``follow-up``), 4 anything else (``time`` 0: kept in data order by a stable sort). Within a
    time, the shorter unit first (``D7`` before ``W1``).

    Examples
    --------
    >>> visit_time("Baseline"), visit_time("screening")
    ((0, 0, 0), (0, -1, 0))
    >>> visit_time("24h"), visit_time("Week 2"), visit_time("week_2_arm_1"), visit_time("V3")
    ((1, 1.0, 1), (1, 14.0, 3), (1, 14.0, 3), (2, 3.0, 0))
    """
    text = _visit_text(label)
    if _SCREENING.match(text):
        return (0, -1, 0)
    if _BASELINE.match(text):
        return (0, 0, 0)
    timed = _TIMED.match(text)
    if timed:
        unit = _UNIT_OF[timed["u1"] or timed["u2"]]
        number = float(timed["n1"] or timed["n2"])
        return (1, number * _UNITS[unit], list(_UNITS).index(unit))
    numbered = _NUMBERED.match(text)
    if numbered:
        return (2, float(numbered["n"]), 0)
    if _LATE.match(text):
        return (3, 0, 0)
    return (4, 0, 0)


def order_visits(labels) -> list:
    """Visit labels in time order (:func:`visit_time`): screening and baseline first, then by
    the time each label names, whatever its unit and style; unrecognised labels last, in the
    order given.

    Examples
    --------
    >>> order_visits(["M1", "W1", "D1", "D0"])
    ['D0', 'D1', 'W1', 'M1']
    >>> order_visits(["Month 1", "Week 2", "Day 1", "Baseline"])
    ['Baseline', 'Day 1', 'Week 2', 'Month 1']
    >>> order_visits(["30d", "7d", "baseline", "24h"])
    ['baseline', '24h', '7d', '30d']
    >>> order_visits(["week_12_arm_1", "baseline_arm_1", "week_2_arm_1", "screening_arm_1"])
    ['screening_arm_1', 'baseline_arm_1', 'week_2_arm_1', 'week_12_arm_1']
    >>> order_visits(["10", "2", "1"]), order_visits(["Follow-up", "V2", "V1"])
    (['1', '2', '10'], ['V1', 'V2', 'Follow-up'])
    """
    labels = list(dict.fromkeys(labels))
    return sorted(labels, key=lambda label: visit_time(label))


def is_visit_label(label) -> bool:
    """A label that names a time, a baseline or a numbered visit (not a bare number)."""
    group = visit_time(label)[0]
    return group in (0, 1, 3) or (group == 2 and not re.fullmatch(_NUMBER, str(label).strip()))
