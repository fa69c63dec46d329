"""Writing a guessed trial (:class:`pilottrial.cli.guess.TrialGuess`) as a commented config.

Every guessed value carries a ``# guessed: <why>`` comment, labels are written in quotes (the
data's arm code ``0`` and visit ``01`` are text, and YAML would read them as numbers), and the
draft is validated (:func:`pilottrial.config.load.validate_config`) before it is written, so that
what ``pilottrial init`` writes always loads.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from pilottrial.cli.guess import TrialGuess

__all__ = ["draft_config", "write_draft", "trial_name"]


def _label(value) -> str:
    """A label in double quotes (YAML reads ``0``, ``01``, ``yes`` unquoted as numbers or booleans)."""
    return json.dumps(str(value), ensure_ascii=False)


def _name(value) -> str:
    """A column name or text, quoted only when YAML would not read it back as the same text."""
    text = str(value)
    try:
        plain = yaml.safe_load(f"key: {text}")
    except yaml.YAMLError:
        plain = None
    if isinstance(plain, dict) and plain.get("key") == text and text.strip() == text and "#" not in text:
        return text
    return _label(text)


def _labels(values) -> str:
    return "[" + ", ".join(_label(v) for v in values) + "]"


def _names(values) -> str:
    return "[" + ", ".join(_name(v) for v in values) + "]"


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def trial_name(path) -> str:
    """A trial name (the results folder) from a file name: letters, digits, ``.``, ``_``, ``-``.

    Examples
    --------
    >>> trial_name("exports/My Trial 2024 (final).sav")
    'my-trial-2024-final'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).stem.lower()).strip("-._")
    return stem or "trial"


def _line(key: str, value: str, why: str | None = None, indent: int = 2) -> str:
    text = " " * indent + f"{key}: {value}"
    return text + (f"  # guessed: {why}" if why else "")


def draft_config(guess: TrialGuess, out) -> str:
    """The config text of a guessed trial, to be written at ``out`` (``data.path`` is relative
    to its folder). Every guess is marked ``# guessed: ...``; the questions the data leave open
    are listed at the top."""
    out = Path(out)
    data_path = os.path.relpath(Path(guess.path).resolve(), out.resolve().parent)
    why = guess.why
    lines = [
        f"# Trial config drafted by `pilottrial init` from {Path(guess.path).name}.",
        "# Lines marked `# guessed:` are guesses from the column names and values: check each against the",
        "# protocol and the statistical analysis plan. Every key is documented in config/README.md.",
        f"# Then: pilottrial check {out.name} && pilottrial run {out.name}",
    ]
    if guess.undecided:
        lines.append("#")
        lines.append("# Not decided from the data (please check):")
        lines += [f"#   - {item}" for item in guess.undecided]
    name = trial_name(guess.path)
    lines += ["trial:", _line("name", _name(name), "from the file name; names the results folder"),
              _line("design", guess.design, why.get("design", "two arms compared in parallel" if len(guess.arms) <= 2
                                                    else f"{len(guess.arms)} arms compared in parallel")),
              _line("phase", "pilot", "or feasibility, phase 2, ..."),
              _line("title", _label(f"{name} ({'crossover' if guess.design == 'crossover' else 'randomized'} trial)"),
                    "the report's title")]
    lines += ["data:", _line("path", _name(data_path))]
    lines.append(_line("layout", guess.layout, why.get("layout", "one row per participant x "
                                                      + ("period" if guess.design == "crossover" else "visit"))))
    if guess.header_row != 1:
        lines.append(_line("header_row", str(guess.header_row), "the column names are below a title"))
    if guess.missing_codes:
        lines.append(_line("missing_codes", "[" + ", ".join(_number(c) for c in guess.missing_codes) + "]",
                           why["missing_codes"]))
    if guess.identifiers:
        lines.append(_line("drop_columns", _names(guess.identifiers), why["drop_columns"]))
    lines.append("columns:")
    for key, column in guess.columns.items():
        lines.append(_line(key, _name(column), why.get(key, "")))
    lines += ["arms:", _line("reference", _label(guess.reference), why.get("reference"))]
    if len(guess.treatments) == 1:
        lines.append(_line("treatment", _label(guess.treatment), "the other arm"))
    else:
        lines.append(_line("treatments", _labels(guess.treatments), f"the {len(guess.treatments)} treatment arms, "
                           + why.get("treatments", "in order")))
    if guess.design == "crossover":
        lines += _crossover_lines(guess)
    else:
        lines += ["visits:"]
        lines += ([_line("baseline", _label(guess.baseline), why.get("baseline"))] if guess.baseline is not None else
                  [f"  # no baseline visit: {why['baseline']}"])
        lines += [_line("order", _labels(guess.visits), why.get("order")),
                  f"  # key: {_labels(guess.visits[1:3])}  # the visits reported first; default every post-baseline visit"]
    lines.append("outcomes:")
    for outcome in guess.outcomes:
        lines += _outcome_lines(outcome, guess)
    lines += ["analysis:", "  alpha: 0.05"]
    if len(guess.treatments) > 1:
        lines += ["  comparisons: vs_reference  # each treatment minus the reference; all_pairs adds every pair of "
                  "treatments",
                  "  arm_adjustment: dunnett  # simultaneous intervals across the comparisons (multivariate t); or "
                  "holm, none"]
    if guess.covariates:
        lines.append(f"  # covariates: {_names(guess.covariates)}  # guessed candidates (participant-level columns): "
                     "add those the analysis plan prespecifies")
    return "\n".join(lines) + "\n"


def _crossover_lines(guess) -> list:
    lines = ["crossover:", _line("periods", _labels(guess.periods), "period labels in the data, in time order"),
             "  sequences:  # guessed: the arm received in each period, per sequence"]
    for label, arms in guess.sequences.items():
        lines.append(f"    {_label(label)}: {_labels(arms)}")
    lines.append(_line("timepoint", _label(guess.timepoint or "post"), "the post-treatment rating (from the score "
                                                                       "column's name)"))
    return lines


def _outcome_lines(outcome, guess) -> list:
    lines = [f"  - name: {_name(outcome.name)}"
             + (f"  # guessed: the {outcome.instrument} total score" if outcome.instrument else "")]
    if outcome.column:
        lines.append(_line("column", _name(outcome.column), indent=4))
    if outcome.baseline_column:
        lines.append(_line("baseline_column", _name(outcome.baseline_column), "the period baseline"
                           if guess.design == "crossover" else "the baseline score", indent=4))
    if outcome.paramcd:
        lines.append(_line("paramcd", _name(outcome.paramcd), indent=4))
    if outcome.columns:
        lines.append("    columns:")
        lines += [f"      {_label(visit)}: {_name(column)}" for visit, column in outcome.columns.items()]
    observed = (f"observed {outcome.observed[0]:g} to {outcome.observed[1]:g}" if outcome.observed else "no scores")
    if outcome.range:
        lines.append(_line("range", f"[{outcome.range[0]}, {outcome.range[1]}]",
                           f"{outcome.instrument} total ({outcome.source}); {observed}", indent=4))
    else:
        note = "; ".join(outcome.notes) or "not a known scale"
        lines.append(f"    # range: [min, max]  # unknown ({note}; {observed}): scores outside are errors")
    lines.append(_line("better", outcome.better, f"{outcome.instrument} improves downwards" if outcome.instrument and
                       outcome.better == "lower" else f"{outcome.instrument} improves upwards" if outcome.instrument
                       else "direction unknown: lower assumed, check", indent=4))
    if outcome.primary:
        lines.append(_line("primary", "true", "the first recognised scale" if outcome.instrument else "the first outcome",
                           indent=4))
    if outcome.role != "efficacy":
        lines.append(_line("role", outcome.role, "the name suggests imaging or a biomarker (mechanism)", indent=4))
    return lines


def write_draft(guess: TrialGuess, out) -> dict:
    """Validate the draft of ``guess`` and write it to ``out``; returns the validated config.

    Raises :class:`pilottrial.errors.InputError` when the draft does not validate (nothing is
    written then)."""
    from pilottrial.config.load import validate_config

    out = Path(out)
    text = draft_config(guess, out)
    config = validate_config(yaml.safe_load(text), source=out, base_dir=out.resolve().parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return config
