"""The crossover analysis table: one row per outcome x participant x period, checked.

The data have one row per participant x period with the sequence, the period, the treatment
received, and per outcome the score after the treatment and the period baseline before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.errors import InputError
from pilottrial.models.crossover.settings import crossover_settings

__all__ = ["crossover_table", "TABLE_COLUMNS"]

#: Columns of :func:`crossover_table`.
TABLE_COLUMNS = ["outcome", "participant", "sequence", "period", "treatment", "period_baseline", "score",
                 "change"]


def _lines(index) -> list:
    return sorted({int(i) + 2 for i in index})  # header is line 1


def _numeric(frame, column, name, path):
    text = frame[column]
    if pd.api.types.is_numeric_dtype(text):
        return text.astype(float)
    stripped = text.astype("string").str.strip().replace("", pd.NA)
    numeric = pd.to_numeric(stripped, errors="coerce")
    bad = stripped.notna() & numeric.isna()
    if bad.any():
        raise InputError(f"{name} score {str(stripped[bad].iloc[0])!r} is not a number", file=path,
                         rows=_lines(frame.index[bad]), column=column,
                         fix="write scores as numbers and leave missing scores empty")
    return numeric.astype(float)


def _labels(series: pd.Series) -> pd.Series:
    """Labels as stripped strings (integers read as floats lose their '.0')."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        return str(v).strip()
    return series.map(one)


def crossover_table(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The crossover analysis table: one row per outcome x participant x period.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per participant x period, either the trial's data (columns named by the
        config: participant, sequence, period, treatment, and per outcome its ``column``
        (post-treatment score) and ``baseline_column`` (period baseline); text or numbers),
        or an already standard table with the columns ``participant, sequence, period,
        treatment, period_baseline, score`` (and ``outcome``; if absent, the first outcome
        of the config).
    config : dict
        Trial config (see :func:`~pilottrial.models.crossover.settings.crossover_settings`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`: ``outcome``, ``participant``, ``sequence``, ``period``
        (int, 1 or 2, the position of the period label in ``crossover.periods``),
        ``treatment`` (the arm received in that period), ``period_baseline``, ``score`` and
        ``change = score - period_baseline`` (floats; missing stays missing). Every
        participant has both periods (a period absent from the data gets a row with missing
        scores); sorted by outcome (config order), participant, period.

    Raises
    ------
    InputError
        Naming the file, lines and column: a missing column, an unknown sequence, period or
        treatment label, a treatment that differs from the one the sequence gives in that
        period, a participant in two sequences or with two rows for a period, a sequence with
        no participant, a score that is not a number or is outside the outcome's range.
    """
    s = crossover_settings(config)
    path = s["source"]
    standard = {"participant", "sequence", "period", "treatment", "period_baseline", "score"} <= set(frame.columns)
    if standard:
        cols = {"participant": "participant", "sequence": "sequence", "period": "period",
                "treatment": "treatment"}
        if "outcome" in frame.columns:
            names = [o["name"] for o in s["outcomes"] if o["name"] in set(frame["outcome"])] or \
                sorted(frame["outcome"].dropna().unique(), key=str)
            pieces = [(n, frame[frame["outcome"] == n], "score", "period_baseline") for n in names]
        else:
            name = s["outcomes"][0]["name"] if s["outcomes"] else "outcome"
            pieces = [(name, frame, "score", "period_baseline")]
        outcome_specs = {n: {"range": next((o["range"] for o in s["outcomes"] if o["name"] == n), None)}
                         for n, *_ in pieces}
    else:
        cols = {"participant": s["participant"], "sequence": s["sequence_column"],
                "period": s["period_column"], "treatment": s["treatment_column"]}
        needed = list(cols.values())
        for o in s["outcomes"]:
            if not o["column"] or not o["baseline_column"]:
                raise InputError(f"outcome {o['name']!r} needs both 'column' (score after treatment) and "
                                 f"'baseline_column' (score before it)", file="config",
                                 fix="add baseline_column: <period-baseline column> to the outcome")
            needed += [o["column"], o["baseline_column"]]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"column(s) {missing} named in the config are not in the data "
                             f"(found: {list(frame.columns)})", file=path, column=missing[0],
                             fix="rename the column in the data or correct columns/outcomes in the config")
        pieces = [(o["name"], frame, o["column"], o["baseline_column"]) for o in s["outcomes"]]
        outcome_specs = {o["name"]: o for o in s["outcomes"]}
    design = _check_design(frame, cols, s, path)
    tables = []
    for name, part, score_col, base_col in pieces:
        score = _numeric(part, score_col, name, path)
        base = _numeric(part, base_col, name, path)
        rng = outcome_specs[name].get("range")
        if rng:
            for values, col in ((score, score_col), (base, base_col)):
                lo, hi = rng
                out = values.notna() & (((values < lo) if lo is not None else False) |
                                        ((values > hi) if hi is not None else False))
                if out.any():
                    raise InputError(f"{name} score {values[out].iloc[0]:g} is outside its range {list(rng)}",
                                     file=path, rows=_lines(part.index[out]), column=col,
                                     fix="correct the score, or the outcome's range in the config")
        scores = pd.DataFrame({"participant": design.loc[part.index, "participant"],
                               "period": design.loc[part.index, "period"],
                               "period_baseline": base.to_numpy(), "score": score.to_numpy()})
        grid = design[["participant", "sequence"]].drop_duplicates().merge(
            pd.DataFrame({"period": [1, 2]}), how="cross")
        grid["treatment"] = [s["sequences"][q][p - 1] for q, p in zip(grid["sequence"], grid["period"])]
        table = grid.merge(scores, on=["participant", "period"], how="left")
        table["change"] = table["score"] - table["period_baseline"]
        table.insert(0, "outcome", name)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    order = {n: i for i, (n, *_) in enumerate(pieces)}
    out["_o"] = out["outcome"].map(order)
    out = out.sort_values(["_o", "participant", "period"]).drop(columns="_o").reset_index(drop=True)
    out["period"] = out["period"].astype(np.int64)
    for col in ("period_baseline", "score", "change"):
        out[col] = out[col].astype(float)
    return out[TABLE_COLUMNS]


def _check_design(frame, cols, s, path) -> pd.DataFrame:
    """Labels of every row checked against the sequences; returns participant, sequence,
    period (1/2), treatment for each row of ``frame``."""
    labels = {k: _labels(frame[c]) for k, c in cols.items()}
    for key, values in labels.items():
        blank = values.isna()
        if blank.any():
            raise InputError("empty cell where a label is required", file=path, rows=_lines(frame.index[blank]),
                             column=cols[key], fix="fill in the participant, sequence, period and treatment on every row")
    unknown = ~labels["sequence"].isin(list(s["sequences"]))
    if unknown.any():
        raise InputError(f"unknown sequence label(s) {sorted(set(labels['sequence'][unknown]))}", file=path,
                         rows=_lines(frame.index[unknown]), column=cols["sequence"],
                         fix=f"use {list(s['sequences'])} or correct crossover.sequences in the config")
    unknown = ~labels["period"].isin(s["periods"])
    if unknown.any():
        raise InputError(f"unknown period label(s) {sorted(set(labels['period'][unknown]))}", file=path,
                         rows=_lines(frame.index[unknown]), column=cols["period"],
                         fix=f"use {s['periods']} or correct crossover.periods in the config")
    period = labels["period"].map({p: i + 1 for i, p in enumerate(s["periods"])}).astype(np.int64)
    expected = [s["sequences"][q][p - 1] for q, p in zip(labels["sequence"], period)]
    wrong = labels["treatment"] != pd.Series(expected, index=frame.index)
    if wrong.any():
        i = wrong.idxmax()
        raise InputError(f"participant {labels['participant'][i]!r} in sequence {labels['sequence'][i]!r} "
                         f"received {labels['treatment'][i]!r} in period {labels['period'][i]}, but the "
                         f"sequence gives {expected[frame.index.get_loc(i)]!r}", file=path,
                         rows=_lines(frame.index[wrong]), column=cols["treatment"],
                         fix="correct the treatment or the sequence, or crossover.sequences in the config")
    design = pd.DataFrame({"participant": labels["participant"], "sequence": labels["sequence"],
                           "period": period, "treatment": labels["treatment"]}, index=frame.index)
    n_seq = design.groupby("participant")["sequence"].nunique()
    if (n_seq > 1).any():
        who = n_seq[n_seq > 1].index[0]
        raise InputError(f"participant {who!r} appears in more than one sequence", file=path,
                         rows=_lines(frame.index[design["participant"] == who]), column=cols["sequence"],
                         fix="each participant keeps the sequence they were randomized to")
    dup = design.duplicated(["participant", "period"], keep=False)
    if dup.any():
        first = design[dup].iloc[0]
        raise InputError(f"participant {first['participant']!r} has more than one row for period "
                         f"{s['periods'][first['period'] - 1]!r}", file=path, rows=_lines(frame.index[dup]),
                         column=cols["period"], fix="keep one row per participant and period")
    for q in s["sequences"]:
        if q not in set(design["sequence"]):
            raise InputError(f"no participant in sequence {q!r}: the crossover needs both sequences", file=path,
                             column=cols["sequence"], fix="check the sequence labels in the data and the config")
    return design
