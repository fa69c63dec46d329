"""Guessing a trial's description from its data file: layout, columns, arms, visits, outcomes.

:func:`guess_trial` reads any supported file (:func:`pilottrial.data.readers.read_trial_data`)
and returns a :class:`TrialGuess`: what ``pilottrial init`` writes as a draft config
(:mod:`pilottrial.cli.draft`), each guess with the reason for it, and the questions the data
cannot answer (which arm is the reference, which outcome is primary).

The guesses follow the names exports use (REDCap ``record_id`` and ``redcap_event_name``, SAS
and CDISC ``USUBJID``, ``TRT01P``, ``AVISIT``, ``PARAMCD``), then the shape of the values: the
participant column repeats across a participant's rows, the arm is constant within a participant
and takes two or more values (:mod:`pilottrial.cli.arms` guesses the reference and orders the
treatments), the visit varies within a participant. Visits are ordered by the time
their labels name (:func:`order_visits`). Outcome ranges and directions come from the table of
instruments (:mod:`pilottrial.cli.instruments`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pilottrial.cli.arms import guess_arms
from pilottrial.cli.instruments import find_instrument, normalize_name
from pilottrial.cli.visits import is_visit_label, order_visits, visit_time
from pilottrial.errors import InputError

__all__ = ["TrialGuess", "OutcomeGuess", "guess_trial", "visit_time", "order_visits", "read_for_guessing"]

# ---- the guess ----------------------------------------------------------------------------------


@dataclass
class OutcomeGuess:
    """One outcome: its name, where its scores are (``column`` for long data, ``columns``
    ``{visit: column}`` for wide, ``paramcd`` for ADaM, ``baseline_column`` for a crossover),
    its range and direction (from the instrument table, else unknown) and the notes on them."""

    name: str
    column: str | None = None
    columns: dict | None = None
    paramcd: str | None = None
    baseline_column: str | None = None
    range: tuple | None = None
    better: str = "lower"
    instrument: str | None = None
    source: str | None = None
    observed: tuple | None = None
    role: str = "efficacy"
    primary: bool = False
    notes: list = field(default_factory=list)


@dataclass
class TrialGuess:
    """What the data say about the trial: each attribute a guess, ``why`` the reason for each
    (``{key: reason}``), ``undecided`` what the user must decide. ``arms`` is the reference
    followed by ``treatments`` (one for a two-arm trial, in dose order for more)."""

    path: Path
    format: str
    layout: str = "long"
    design: str = "parallel"
    header_row: int = 1
    columns: dict = field(default_factory=dict)
    arms: list = field(default_factory=list)
    reference: str | None = None
    treatments: list = field(default_factory=list)
    visits: list = field(default_factory=list)
    baseline: str | None = None
    outcomes: list = field(default_factory=list)
    covariates: list = field(default_factory=list)
    identifiers: list = field(default_factory=list)
    missing_codes: list = field(default_factory=list)
    periods: list = field(default_factory=list)
    sequences: dict = field(default_factory=dict)
    timepoint: str | None = None
    n_participants: int = 0
    n_rows: int = 0
    why: dict = field(default_factory=dict)
    undecided: list = field(default_factory=list)

    @property
    def treatment(self) -> str:
        """The treatment arm of a two-arm trial (three or more arms: :attr:`treatments`)."""
        if len(self.treatments) != 1:
            raise ValueError(f"{len(self.treatments) + 1} arms: use TrialGuess.treatments, not TrialGuess.treatment")
        return self.treatments[0]


_PARTICIPANT = ["usubjid", "subjid", "participant", "participantid", "participantcode", "subject", "subjectid",
                "subjectcode", "patient", "patientid", "patientcode", "recordid", "studyid", "pid", "ptid", "ppt",
                "id", "code", "case", "caseid"]
_ARM = ["trt01p", "trt01a", "trtp", "trta", "arm", "actarm", "arms", "group", "grp", "treatment", "treatmentgroup",
        "trt", "treat", "tx", "allocation", "randomization", "randomisation", "randomizationgroup",
        "randomisationgroup", "randgroup", "randarm", "condition", "intervention", "drug", "studyarm", "armcd"]
_VISIT = ["avisit", "visit", "visitname", "visitlabel", "redcapeventname", "eventname", "event", "timepoint",
          "time", "tp", "week", "day", "wave", "session", "assessment", "occasion", "visitnum", "avisitn"]
_SEQUENCE = ["sequence", "seq", "trtseqp", "trtseq", "sequencegroup", "order"]
_PERIOD = ["period", "aperiod", "per", "phase"]
_COVARIATE = re.compile(r"^(age|sex|gender|site|centre|center|country|bmi|weight|height|education|race|ethnicity|"
                        r"stratum|strata|severity|duration|smoker|smoking|income|employment|comorbid\w*)")
_MECHANISM = re.compile(r"reactivity|bold|fmri|roi|amygdala|hippocamp|connectivity|volume|thickness|eeg|erp|"
                        r"cortisol|bdnf|biomarker|imaging", re.IGNORECASE)
_PRE = re.compile(r"(^|[_.\- ])(pre|before|baseline|base|bl|predose|pretreatment)$", re.IGNORECASE)
#: Codes exports write for a missing score (SAS, SPSS, REDCap).
_MISSING_CODES = (-9, -99, -999, -9999, 99, 999, 9999)


def _by_name(columns, names, accept=lambda column: True) -> str | None:
    """The first column whose normalized name is one of ``names`` (in the order of ``names``),
    else whose normalized name starts with one of them (not a date or a number: ``visit_date``
    and ``visitnum`` are not the visit); only columns that ``accept``."""
    normal = {normalize_name(c): c for c in reversed(list(columns))}
    for name in names:
        if name in normal and accept(normal[name]):
            return normal[name]
    for name in names:
        if len(name) >= 4:
            for key, column in normal.items():
                if key.startswith(name) and not re.search(r"(date|dt|dtc|dtm|num|n)$", key) and accept(column):
                    return column
    return None


def _numeric(values: pd.Series) -> pd.Series | None:
    """The values as numbers when every non-missing one is a number, else None."""
    present = values.dropna()
    if present.empty:
        return None
    numbers = pd.to_numeric(present, errors="coerce")
    return None if numbers.isna().any() else pd.to_numeric(values, errors="coerce")


def _constant_within(frame, participant, column) -> bool:
    return bool(frame.groupby(participant)[column].nunique(dropna=True).max() <= 1)


def read_for_guessing(path, sheet=None) -> tuple[pd.DataFrame, str, int]:
    """Read a data file as text (:func:`pilottrial.data.readers.read_trial_data`), finding the
    header row of a spreadsheet or CSV with a title above the column names. Returns
    ``(frame, format, header_row)``."""
    from pilottrial.data.readers import data_format, read_trial_data

    path = Path(path)
    config = {"data": {"path": str(path)}}
    fmt = data_format(config)
    if sheet is not None:
        config["data"]["sheet"] = sheet
    for header_row in range(1, 11):
        config["data"]["header_row"] = header_row
        try:
            frame = read_trial_data(config)
        except InputError as error:
            if "header is not on row" in error.problem and header_row < 10:
                continue
            raise
        unnamed = sum(str(c).startswith("Unnamed:") for c in frame.columns)
        if fmt in ("csv", "tsv") and header_row < 10 and (len(frame.columns) == 1 or unnamed > len(frame.columns) // 2):
            continue  # a title line above the header
        return frame, fmt, header_row
    raise InputError("no header row with column names in the first 10 lines", file=path,
                     fix="export the data with the column names on the first line")


def _value_labels(path: Path, fmt: str) -> dict:
    """SPSS/Stata value labels ``{column: {code text: label}}`` (pyreadstat metadata), else {}."""
    if fmt not in ("spss", "stata"):
        return {}
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
    _, meta = reader(str(path), metadataonly=True)
    out = {}
    for column, labels in (meta.variable_value_labels or {}).items():
        out[str(column)] = {(str(int(k)) if isinstance(k, float) and k.is_integer() else str(k)): str(v)
                            for k, v in labels.items()}
    return out


def _identifier_columns(frame, path, exempt) -> list:
    """Columns the de-identification guard (:func:`pilottrial.data.checks.check_identifiers`) refuses."""
    from pilottrial.data.checks import check_identifiers

    refused = []
    for column in frame.columns:
        if column in exempt:
            continue
        try:
            check_identifiers(frame[[column]], {"data": {"path": str(path)}, "columns": {}})
        except InputError:
            refused.append(column)
    return refused


def guess_trial(path, sheet=None) -> TrialGuess:
    """Guess a trial's description from its data file.

    Parameters
    ----------
    path : path of the data file (CSV, TSV, Excel, Parquet, SAS, SPSS, Stata), in the long,
        wide or ADaM layout, a parallel-group or a two-period crossover trial.
    sheet : Excel sheet (name or 0-based index); default the first.

    Returns
    -------
    TrialGuess
        The guessed layout, design, columns, arm labels (the reference when a label says it:
        placebo, control, sham, usual care, waitlist, an active placebo, or the code 0), visit
        order (:func:`order_visits`), baseline, outcomes with range and direction, covariate
        candidates, identifier columns the pipeline would refuse, missing-value codes; ``why``
        gives the reason of each guess and ``undecided`` what the data do not say.

    Raises
    ------
    pilottrial.errors.InputError
        When the file cannot be read, or has no column that can be the participant or the arm.
    """
    path = Path(path)
    frame, fmt, header_row = read_for_guessing(path, sheet)
    guess = TrialGuess(path=path, format=fmt, header_row=header_row, n_rows=len(frame))
    labels = _value_labels(path, fmt)
    columns = list(frame.columns)
    upper = {c.upper(): c for c in columns}
    if "PARAMCD" in upper and "AVAL" in upper:
        _guess_adam(guess, frame, upper)
    else:
        _guess_participant(guess, frame)
        pid = guess.columns["participant"]
        sequence, period = _by_name(columns, _SEQUENCE), _by_name(columns, _PERIOD)
        if sequence and period and sequence != pid and period != pid:
            _guess_crossover(guess, frame, sequence, period)
        elif frame[pid].dropna().duplicated().any():
            guess.layout = "long"
            _guess_arm(guess, frame, labels)
            _guess_visit(guess, frame, labels)
            _guess_long_outcomes(guess, frame)
        else:
            guess.layout = "wide"
            _guess_arm(guess, frame, labels)
            _guess_wide_outcomes(guess, frame)
    pid = guess.columns["participant"]
    guess.n_participants = int(frame[pid].dropna().nunique())
    used = set(guess.columns.values()) | {c for o in guess.outcomes for c in _outcome_columns(o)}
    guess.identifiers = _identifier_columns(frame, path, used)
    if guess.identifiers:
        guess.why["drop_columns"] = ("these columns look like direct identifiers (HIPAA Safe Harbor) and would be "
                                     "refused; better remove them from the export")
    if guess.layout != "adam" and guess.design == "parallel":
        _guess_covariates(guess, frame, used | set(guess.identifiers))
    _guess_missing_codes(guess, frame)
    _guess_ranges(guess, frame)
    _choose_primary(guess)
    return guess


def _outcome_columns(outcome: OutcomeGuess) -> list:
    found = [outcome.column, outcome.baseline_column, *(outcome.columns or {}).values()]
    return [c for c in found if c]


def _guess_participant(guess, frame):
    columns = list(frame.columns)
    pid = _by_name(columns, _PARTICIPANT, accept=lambda c: frame[c].dropna().nunique() >= 2)
    if pid is not None:
        guess.why["participant"] = f"the column named {pid!r}"
    else:
        text = [c for c in columns if _numeric(frame[c]) is None and frame[c].notna().all()]
        pid = next((c for c in text if frame[c].nunique() >= max(2, len(frame) // 20)), None)
        if pid is None:
            raise InputError("no column looks like the participant code", file=guess.path,
                             fix="name the participant column 'participant' (or 'subject', 'record_id', 'USUBJID')")
        guess.why["participant"] = f"the first text column with a value per participant ({pid!r})"
    guess.columns["participant"] = pid


def _arm_labels(guess, frame, column, labels) -> tuple[list, bool]:
    """The arm labels of ``column`` and whether they are value labels of codes (then in code order)."""
    values = [str(v).strip() for v in frame[column].dropna().unique()]
    named = labels.get(column) or {}
    if named and all(v in named for v in values):
        guess.why["arm_labels"] = f"the value labels of {column!r} in the file"
        codes = sorted(set(values), key=lambda v: (_numeric(pd.Series([v])) is None, pd.to_numeric(v, errors="coerce"), v))
        return list(dict.fromkeys(named[v] for v in codes)), True
    return sorted(set(values), key=lambda v: (_numeric(pd.Series([v])) is None, pd.to_numeric(v, errors="coerce"), v)), False


#: More values than this in the arm column is not a trial's arms.
_MAX_ARMS = 10


def _set_arms(guess, values, column, coded=False):
    """The reference and the treatments among the arm labels (:func:`pilottrial.cli.arms.guess_arms`):
    two or more arms in parallel, exactly two in a crossover."""
    if len(values) < 2 or (guess.design == "crossover" and len(values) != 2):
        need = ("a two-period crossover compares exactly two arms" if guess.design == "crossover" else
                "a comparison needs exactly two arms, or three or more in parallel groups")
        raise InputError(f"column {column!r} (the arm, as guessed) has {len(values)} values {values[:6]}: {need}",
                         file=guess.path, column=column,
                         fix="export the arms to compare (one row per participant x visit), or name the arm "
                             "column 'arm'")
    if len(values) > _MAX_ARMS:
        raise InputError(f"column {column!r} (the arm, as guessed) has {len(values)} values {values[:6]}: more than "
                         f"the {_MAX_ARMS} arms a trial can have", file=guess.path, column=column,
                         fix="name the arm column 'arm'")
    arms = guess_arms(values, coded=coded)
    guess.reference, guess.treatments = arms.reference, arms.treatments
    guess.arms = [arms.reference, *arms.treatments]
    guess.why["reference"] = arms.why_reference
    if len(arms.treatments) > 1:
        guess.why["treatments"] = arms.why_treatments
    guess.undecided += arms.undecided


def _guess_arm(guess, frame, labels):
    pid = guess.columns["participant"]
    columns = [c for c in frame.columns if c != pid]
    arm = _by_name(columns, _ARM)
    if arm is not None:  # named so: its labels must be two or more (else a one-line error below)
        guess.why["arm"] = f"the column named {arm!r}"
    else:
        constant = [c for c in columns if _constant_within(frame, pid, c) and not _COVARIATE.match(normalize_name(c))]
        counts = {c: frame[c].dropna().nunique() for c in constant}
        two = [c for c in constant if counts[c] == 2]
        several = [c for c in constant if 3 <= counts[c] <= 6 and _numeric(frame[c]) is None
                   and frame.drop_duplicates(pid)[c].value_counts().min() >= 2]
        if not two + several:
            raise InputError("no column looks like the randomized arm (two or more values, constant within a "
                             "participant)", file=guess.path, fix="name the arm column 'arm'")
        arm = (two + several)[0]
        guess.why["arm"] = (f"the first column with {'two' if counts[arm] == 2 else counts[arm]} values, constant "
                            f"within a participant ({arm!r})")
        if not two:
            guess.undecided.append(f"the arm column: guessed {arm!r} ({counts[arm]} values, the first text column "
                                   f"constant within a participant); check columns.arm")
    guess.columns["arm"] = arm
    values, coded = _arm_labels(guess, frame, arm, labels)
    _set_arms(guess, values, arm, coded)


def _visit_order(guess, values, how):
    guess.visits = order_visits(values)
    groups = {visit_time(v)[0] for v in guess.visits}
    guess.why["order"] = ("ordered by the time each label names (baseline first, then h < d < w < m)" if groups <= {0, 1, 3}
                          else "ordered by time and visit number" if 4 not in groups else
                          "some labels name no time: kept in the order of the data; check the order")
    if 4 in groups:
        guess.undecided.append(f"the visit order: labels {[v for v in guess.visits if visit_time(v)[0] == 4]} name no "
                               f"time; check visits.order")
    zero = [v for v in guess.visits if visit_time(v)[:2] in ((0, 0), (1, 0.0))]
    screening = [v for v in guess.visits if visit_time(v)[:2] == (0, -1)]
    if zero:
        guess.baseline = zero[0]
        guess.why["baseline"] = f"the label {zero[0]!r} names the baseline"
    else:
        guess.baseline = guess.visits[0]
        guess.why["baseline"] = f"the first visit {how}"
        guess.undecided.append(f"the baseline visit: guessed {guess.baseline!r}, the first; check visits.baseline")
    if screening and guess.baseline not in screening:
        guess.undecided.append(f"visit(s) {screening} come before the baseline {guess.baseline!r}: the pipeline needs "
                               f"the baseline first; remove their rows from the export (or make one the baseline)")
        guess.visits = [v for v in guess.visits if v not in screening]
    guess.visits.remove(guess.baseline)
    guess.visits.insert(0, guess.baseline)


def _guess_visit(guess, frame, labels):
    pid, arm = guess.columns["participant"], guess.columns["arm"]
    columns = [c for c in frame.columns if c not in (pid, arm)]
    visit = _by_name(columns, _VISIT)
    if visit is not None and not _constant_within(frame, pid, visit):
        guess.why["visit"] = f"the column named {visit!r}"
    else:
        varying = [c for c in columns if not _constant_within(frame, pid, c)
                   and frame[c].dropna().map(is_visit_label).mean() > 0.8]
        if not varying:
            raise InputError("no column looks like the visit (labels such as baseline, week 2, D7, 24h)",
                             file=guess.path, fix="name the visit column 'visit'")
        visit = varying[0]
        guess.why["visit"] = f"the first column whose values name visits ({visit!r})"
    guess.columns["visit"] = visit
    values = [str(v).strip() for v in frame[visit].dropna().unique()]
    named = labels.get(visit) or {}
    if named and all(v in named for v in values):
        values = [named[v] for v in values]
    _visit_order(guess, values, "in the data")


def _score_columns(guess, frame, exclude) -> list:
    pid = guess.columns["participant"]
    found = []
    for column in frame.columns:
        if column in exclude or _numeric(frame[column]) is None:
            continue
        name = normalize_name(column)
        instrument = find_instrument(column)
        if instrument is None and (_COVARIATE.match(name) or re.search(r"(num|^n|day|dy|id)$", name)):
            continue
        if ((instrument is None or _BASE_COLUMN.search(str(column))) and _constant_within(frame, pid, column)
                and frame[column].notna().mean() > 0.9):
            continue  # a participant-level value on every row (a covariate, a baseline column), not a score
        found.append(column)
    return found


def _guess_long_outcomes(guess, frame):
    exclude = set(guess.columns.values())
    for column in _score_columns(guess, frame, exclude):
        guess.outcomes.append(_outcome(column, column=column))
    if not guess.outcomes:
        raise InputError("no numeric column that varies between visits: no outcome found", file=guess.path,
                         fix="export the scores as numbers, one column per outcome")
    _guess_baseline_columns(guess, frame)


_BASE_COLUMN = re.compile(r"^(base|basval|baseline|bl)$|^(baseline|base|bl)[_.]|[_.](baseline|base|bl|pre)$",
                          re.IGNORECASE)


def _guess_baseline_columns(guess, frame):
    """When no visit is the baseline, a participant-level column named as a baseline (``BASE``,
    ``BASVAL``, ``hamd_bl``) holds the baseline score: ``outcomes[].baseline_column``."""
    if any(visit_time(v)[:2] in ((0, 0), (1, 0.0)) for v in guess.visits):
        return
    pid = guess.columns["participant"]
    candidates = [c for c in frame.columns if c not in guess.columns.values() and _BASE_COLUMN.search(str(c))
                  and _numeric(frame[c]) is not None and _constant_within(frame, pid, c)]
    for outcome in guess.outcomes:
        stem = normalize_name(outcome.column)
        match = next((c for c in candidates if normalize_name(_BASE_COLUMN.sub("", c)) == stem), None)
        if match is None and len(candidates) == 1 and len(guess.outcomes) == 1:
            match = candidates[0]
        outcome.baseline_column = match
    with_base = [o for o in guess.outcomes if o.baseline_column]
    if not with_base:
        return
    dropped = [o.name for o in guess.outcomes if not o.baseline_column]
    if dropped:
        guess.undecided.append(f"outcome(s) {dropped} have no baseline column: left out (the change from baseline "
                               f"needs one)")
    guess.outcomes = with_base
    guess.undecided = [u for u in guess.undecided if not u.startswith("the baseline visit")]
    guess.baseline = None
    guess.why["baseline"] = (f"no visit names the baseline; the baseline score is a column of every row "
                             f"({', '.join(o.baseline_column for o in with_base)})")


def _outcome(label, **where) -> OutcomeGuess:
    instrument = find_instrument(label)
    text = re.sub(r"[_.]+", " ", str(label)).strip()
    name = instrument.name if instrument else (text[:1].upper() + text[1:] if text.islower() else text)
    outcome = OutcomeGuess(name=name, **where)
    if instrument:
        outcome.instrument, outcome.range, outcome.better = instrument.name, instrument.range, instrument.better
        outcome.source = instrument.source
    if _MECHANISM.search(str(label)):
        outcome.role = "mechanism"
    return outcome


_WIDE = re.compile(r"^(?P<stem>.+?)[_.\- ]+(?P<visit>[^_.\- ]+(?:[_ ]\d+)?)$")


def _guess_wide_outcomes(guess, frame):
    pid, arm = guess.columns["participant"], guess.columns["arm"]
    stems: dict = {}
    for column in frame.columns:
        if column in (pid, arm) or _numeric(frame[column]) is None:
            continue
        match = _WIDE.match(str(column))
        if match and is_visit_label(match["visit"]):
            stems.setdefault(match["stem"], {})[match["visit"]] = column
    stems = {s: v for s, v in stems.items() if len(v) >= 2}
    if not stems:
        raise InputError("one row per participant, but no columns per outcome x visit (such as caps5_baseline, "
                         "caps5_w4) and no visit column", file=guess.path,
                         fix="export one row per participant x visit with a 'visit' column, or name the wide "
                             "columns <outcome>_<visit>")
    visits = order_visits([v for by_visit in stems.values() for v in by_visit])
    _visit_order(guess, visits, "of the column names")
    for stem, by_visit in stems.items():
        mapping = {v: by_visit[v] for v in guess.visits if v in by_visit}
        guess.outcomes.append(_outcome(stem, columns=mapping))
    guess.why["layout"] = "one row per participant, a column per outcome x visit"


def _guess_adam(guess, frame, upper):
    guess.layout = "adam"
    guess.why["layout"] = "a CDISC ADaM BDS dataset (PARAMCD, AVAL)"
    columns = list(frame.columns)
    pid = _by_name(columns, ["usubjid", "subjid"]) or _by_name(columns, _PARTICIPANT)
    arm = _by_name(columns, ["trt01p", "trt01a", "trtp", "trta", "arm", "actarm"])
    visit = upper.get("AVISIT") or _by_name(columns, _VISIT)
    if not (pid and arm and visit):
        raise InputError("an ADaM dataset without USUBJID, TRT01P or AVISIT", file=guess.path,
                         fix="export the BDS dataset with USUBJID, TRT01P (or TRT01A) and AVISIT")
    guess.columns = {"participant": pid, "arm": arm, "visit": visit}
    if upper["PARAMCD"] != "PARAMCD":
        guess.columns["paramcd"] = upper["PARAMCD"]
    if upper["AVAL"] != "AVAL":
        guess.columns["value"] = upper["AVAL"]
    for key, name in (("participant", pid), ("arm", arm), ("visit", visit)):
        guess.why[key] = f"the ADaM variable {name}"
    if "ANL01FL" in frame.columns:
        frame = frame[frame["ANL01FL"].fillna("").str.upper() == "Y"]
    _set_arms(guess, sorted({str(v).strip() for v in frame[arm].dropna()}), arm)
    flag = frame["ABLFL"].fillna("").str.upper() == "Y" if "ABLFL" in frame.columns else None
    values = [str(v).strip() for v in frame[visit].dropna().unique()]
    if flag is not None and flag.any():
        baseline = frame.loc[flag, visit].dropna().mode()
        baseline = str(baseline.iloc[0]).strip() if len(baseline) else "Baseline"
        values = [v for v in values if v not in set(frame.loc[flag, visit].dropna())] + [baseline]
    order_by = upper.get("AVISITN")
    if order_by:
        numbers = frame.groupby(visit)[order_by].first().map(lambda v: pd.to_numeric(v, errors="coerce"))
        values = sorted(values, key=lambda v: (numbers.get(v, float("inf")), visit_time(v)))
        guess.visits = values
        _visit_order(guess, [v for v in values], "by AVISITN")
        guess.visits = [guess.baseline] + [v for v in values if v != guess.baseline]
        guess.why["order"] = "ordered by AVISITN"
    else:
        _visit_order(guess, values, "in the data")
    if flag is not None and flag.any():
        guess.why["baseline"] = "the AVISIT of the records flagged ABLFL = Y"
    for code in frame[upper["PARAMCD"]].dropna().unique():
        outcome = _outcome(str(code), paramcd=str(code))
        guess.outcomes.append(outcome)


def _guess_crossover(guess, frame, sequence, period):
    guess.design, guess.layout = "crossover", "long"
    pid = guess.columns["participant"]
    guess.columns.update(sequence=sequence, period=period)
    guess.why["design"] = f"a sequence ({sequence!r}) and a period ({period!r}) column: a two-period crossover"
    guess.why.update(sequence=f"the column named {sequence!r}", period=f"the column named {period!r}")
    columns = [c for c in frame.columns if c not in (pid, sequence, period)]
    treatment = _by_name(columns, _ARM)
    if treatment is None:
        varying = [c for c in columns if frame[c].dropna().nunique() == 2 and not _constant_within(frame, pid, c)]
        if not varying:
            raise InputError("a crossover without a column for the arm received in each period", file=guess.path,
                             fix="add a 'treatment' column (the arm of the period)")
        treatment = varying[0]
    guess.columns["treatment"] = treatment
    guess.why["treatment"] = f"the arm received in each period ({treatment!r})"
    _set_arms(guess, sorted({str(v).strip() for v in frame[treatment].dropna()}), treatment)
    guess.periods = order_visits(str(v).strip() for v in frame[period].dropna().unique())
    rows = frame.dropna(subset=[sequence, period, treatment])
    for label, group in rows.groupby(sequence, sort=True):
        by_period = group.groupby(group[period].str.strip())[treatment].agg(lambda s: s.str.strip().mode().iloc[0])
        guess.sequences[str(label).strip()] = [by_period[p] for p in guess.periods if p in by_period.index]
    scores = _score_columns(guess, frame, set(guess.columns.values()))
    pre = [c for c in scores if _PRE.search(c)]
    for column in [c for c in scores if c not in pre]:
        stem = re.sub(r"[_.\- ]*[^_.\- ]*$", "", column) or column
        base = next((p for p in pre if _PRE.sub("", p) == stem), None)
        if base is None:
            continue
        outcome = _outcome(stem, column=column, baseline_column=base)
        guess.outcomes.append(outcome)
        suffix = column[len(stem):].strip("_.- ")
        if guess.timepoint is None and suffix:
            guess.timepoint = suffix
    if not guess.outcomes:
        raise InputError("a crossover needs a score column and its period-baseline column per outcome (e.g. "
                         "hamd_pre and hamd_post)", file=guess.path, fix="name the period baseline <outcome>_pre")


def _guess_covariates(guess, frame, exclude):
    pid = guess.columns["participant"]
    for column in frame.columns:
        if column in exclude or not _COVARIATE.match(normalize_name(column)):
            continue
        if _constant_within(frame, pid, column) and frame[column].dropna().nunique() >= 2:
            guess.covariates.append(column)


def _guess_missing_codes(guess, frame):
    codes = set()
    for outcome in guess.outcomes:
        for column in _outcome_columns(outcome) or [guess.columns.get("value", "AVAL")]:
            numbers = _numeric(frame[column])
            if numbers is None:
                continue
            lo, hi = outcome.range or (0, None)
            for code in _MISSING_CODES:
                outside = code < lo or (hi is not None and code > hi) or (outcome.range is None and abs(code) >= 99)
                if outside and (numbers == code).any():
                    codes.add(code)
    guess.missing_codes = sorted(codes)
    if codes:
        guess.why["missing_codes"] = f"{sorted(codes)} appear among the scores, outside their range: missing-value codes"


def _guess_ranges(guess, frame):
    paramcd = guess.columns.get("paramcd", "PARAMCD")
    value = guess.columns.get("value", "AVAL")
    for outcome in guess.outcomes:
        if outcome.paramcd is not None:
            values = frame.loc[frame[paramcd] == outcome.paramcd, value]
        else:
            values = pd.concat([frame[c] for c in _outcome_columns(outcome)])
        numbers = pd.to_numeric(values, errors="coerce")
        numbers = numbers[~numbers.isin(guess.missing_codes)].dropna()
        if numbers.empty:
            continue
        outcome.observed = (float(numbers.min()), float(numbers.max()))
        lo, hi = outcome.range or (None, None)
        if outcome.range and (numbers.min() < lo or numbers.max() > hi):
            outcome.notes.append(f"the scores ({numbers.min():g} to {numbers.max():g}) exceed the {outcome.instrument} "
                                 f"total range {lo}-{hi}: a subscale or another version? range left open")
            outcome.range, outcome.source = None, None


def _choose_primary(guess):
    efficacy = [o for o in guess.outcomes if o.role == "efficacy"] or guess.outcomes
    first = next((o for o in efficacy if o.instrument), efficacy[0])
    first.primary = True
    first.role = "efficacy"
    names = [o.name for o in guess.outcomes]
    if len(set(names)) != len(names):  # two columns of one instrument: keep their column names
        for o in guess.outcomes:
            if names.count(o.name) > 1:
                o.name = o.column or o.paramcd or o.name
    if len(efficacy) > 1:
        guess.undecided.append(f"which outcome is primary: guessed {first.name!r} (the first "
                               f"{'recognised scale' if first.instrument else 'outcome'}); check outcomes[].primary")
