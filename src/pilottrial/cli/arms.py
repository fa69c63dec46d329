"""Guessing the arms of a trial from their labels: the reference arm and the treatments' order.

:func:`guess_arms` takes the k arm labels of a data file and says which is the reference (the
control every treatment is compared with) and in which order the treatments go (``arms.treatment``
for two arms, ``arms.treatments`` for three or more, config/README.md). The reference is the arm
whose label names a control, in tiers: a placebo or sham (``placebo``, ``PBO``, ``saline``,
``vehicle``, a zero dose), then a control condition (``control``, ``usual care``, ``TAU``,
``waitlist``), then an active placebo or comparator (``midazolam``, ``diphenhydramine``,
``standard``), then the code ``0``; without one, the first arm in order, flagged for the user.
Treatments are ordered by the dose or level their labels name (:func:`treatment_key`:
``ketamine-0.2`` < ``ketamine-0.5``, ``5 mg`` < ``10 mg`` < ``500 mg``, ``low`` < ``medium`` <
``high``), else by their code in the file, else by label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["ArmGuess", "guess_arms", "treatment_key", "names_a_dose"]

#: Tiers of labels that name a control, strongest first: (what the tier is, pattern).
_TIERS = (
    ("a placebo or sham", re.compile(r"placebo|(?<![a-z])(pbo|plc|pla)(?![a-z])|sham|sugar|saline|vehicle|inactive|"
                                     r"dummy", re.IGNORECASE)),
    ("a control (control, usual care, waitlist, no treatment)",
     re.compile(r"control|usual|(?<![a-z])(tau|cau|soc|wlc|uc)(?![a-z])|wait|no (treatment|intervention)|untreated",
                re.IGNORECASE)),
    ("an active placebo or comparator (midazolam, diphenhydramine, standard care)",
     re.compile(r"midazolam|diphenhydramine|standard|attention", re.IGNORECASE)),
)
#: Words naming a level of a dose, in order.
_LEVELS = {"very low": 0, "lowest": 0, "low": 1, "lo": 1, "medium": 2, "med": 2, "mid": 2, "middle": 2,
           "moderate": 2, "intermediate": 2, "high": 3, "hi": 3, "very high": 4, "highest": 4}
_LEVEL = re.compile(r"(?<![a-z])(" + "|".join(sorted(map(re.escape, _LEVELS), key=len, reverse=True)) + r")(?![a-z])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
#: Mass units as milligrams, so that ``500 µg`` < ``1 mg``.
_MASS = re.compile(r"(\d+(?:\.\d+)?)\s*(µg|μg|ug|mcg|mg|g)(?![a-z])")
_TO_MG = {"µg": 0.001, "μg": 0.001, "ug": 0.001, "mcg": 0.001, "mg": 1.0, "g": 1000.0}


@dataclass
class ArmGuess:
    """The guessed reference arm, the treatments in order, the reasons, and what is left open."""

    reference: str
    treatments: list
    why_reference: str
    why_treatments: str
    undecided: list = field(default_factory=list)


def _in_mg(match) -> str:
    return f"{float(match[1]) * _TO_MG[match[2]]:g} mg"


def treatment_key(label) -> tuple:
    """A sort key putting arm labels in their natural order: numbers compared as numbers (doses
    in µg, mg and g compared in mg), level words as ranks (very low < low < medium < high),
    text case-insensitively.

    Examples
    --------
    >>> sorted(["ketamine-0.5", "ketamine-0.2"], key=treatment_key)
    ['ketamine-0.2', 'ketamine-0.5']
    >>> sorted(["Psilocybin 25 mg", "Psilocybin 5 mg", "Psilocybin 10 mg"], key=treatment_key)
    ['Psilocybin 5 mg', 'Psilocybin 10 mg', 'Psilocybin 25 mg']
    >>> sorted(["high", "Low dose", "medium"], key=treatment_key), sorted(["1 mg", "500 ug"], key=treatment_key)
    (['Low dose', 'medium', 'high'], ['500 ug', '1 mg'])
    """
    text = _MASS.sub(_in_mg, str(label).strip().lower())
    text = _LEVEL.sub(lambda m: str(_LEVELS[m[1]]), text)
    parts = _NUMBER.split(text)
    numbers = [float(n) for n in _NUMBER.findall(text)]
    key = [parts[0]]
    for number, part in zip(numbers, parts[1:]):
        key += [number, part]
    return tuple(key)


def names_a_dose(label) -> bool:
    """Whether a label names a dose or a level: a number (``ketamine-0.2``, ``10 mg``, the code
    ``2``) or a level word (``low``, ``high dose``)."""
    text = str(label).strip().lower()
    return bool(_NUMBER.search(text) or _LEVEL.search(text))


def _zero_dose(labels) -> str | None:
    """The label naming a zero dose of what the others name doses of (``ketamine-0`` beside
    ``ketamine-0.5``, ``0 mg`` beside ``10 mg``), else None; bare codes are not doses."""
    stems, zeros = set(), []
    for label in labels:
        numbers = _NUMBER.findall(str(label))
        if len(numbers) != 1 or re.fullmatch(r"\s*" + _NUMBER.pattern + r"\s*", str(label)):
            return None
        stems.add(_NUMBER.sub("#", str(label).strip().lower()))
        if float(numbers[0]) == 0:
            zeros.append(label)
    return zeros[0] if len(stems) == 1 and len(zeros) == 1 else None


def _order_treatments(treatments, coded) -> tuple[list, str]:
    if all(re.fullmatch(_NUMBER.pattern, t) for t in treatments):
        return sorted(treatments, key=float), "codes ascending"
    if all(names_a_dose(t) for t in treatments):
        return sorted(treatments, key=treatment_key), "ordered by the dose or level each label names"
    if coded:
        return list(treatments), "in the order of their codes in the file"
    return sorted(treatments, key=treatment_key), "sorted by label (no label names a dose): reorder if needed"


def guess_arms(labels, coded: bool = False) -> ArmGuess:
    """Guess the reference arm among k >= 2 arm labels and the order of the treatments.

    Parameters
    ----------
    labels : the arms' labels (text), in the order of their codes when ``coded``.
    coded : whether the labels are the value labels of numeric codes (SPSS, Stata): then
        treatments that name no dose keep the order of their codes.

    Returns
    -------
    ArmGuess
        ``reference``; ``treatments`` in natural order (:func:`treatment_key`); the reasons; and
        ``undecided``, the question for the user when no single label names the control.

    Examples
    --------
    >>> arms = guess_arms(["ketamine-0.5", "midazolam", "ketamine-0.2"])
    >>> arms.reference, arms.treatments
    ('midazolam', ['ketamine-0.2', 'ketamine-0.5'])
    >>> guess_arms(["high", "placebo", "low", "medium"]).treatments
    ['low', 'medium', 'high']
    """
    labels = list(dict.fromkeys(str(v) for v in labels))
    undecided = []
    zero = _zero_dose(labels)
    tiers = [[v for v in labels if pattern.search(v)] for _, pattern in _TIERS]
    matches = [v for tier in tiers for v in tier]
    if zero is not None:
        reference, why = zero, f"the label {zero!r} names a zero dose (a placebo)"
    elif matches:
        best = next(i for i, tier in enumerate(tiers) if tier)
        reference = tiers[best][0]
        why = f"the label {reference!r} names {_TIERS[best][0]}"
        if len(set(matches)) > 1:
            why += f"; {sorted(set(matches) - {reference})} could also be the control"
            undecided.append(f"which arm is the reference: guessed {reference!r} ({_TIERS[best][0]}) of the arms "
                             f"naming a control {list(dict.fromkeys(matches))}; check arms.reference")
        elif len(labels) == 2:
            why = f"the label {reference!r} names a control (placebo, control, sham, usual care, ...)"
    elif "0" in labels:
        reference, why = "0", "0 usually codes the control arm"
        undecided.append(f"which arm is the reference: guessed '0' of {labels} (0 usually codes the control); "
                         f"check arms.reference")
    else:
        ordered, _ = _order_treatments(labels, coded)
        reference = ordered[0]
        why = ("no label names a control: the first label, sorted" if len(labels) == 2 else
               "no label names a control: the first arm in order (the lowest dose or code)")
        undecided.append(f"which arm is the reference (the control): guessed {reference!r} of {labels}; check "
                         f"arms.reference and arms.{'treatment' if len(labels) == 2 else 'treatments'}")
    treatments, why_treatments = _order_treatments([v for v in labels if v != reference], coded)
    return ArmGuess(reference, treatments, why, why_treatments, undecided)
