"""Data layouts to the long form: long, wide and CDISC ADaM BDS, and visit windows.

Whatever the layout of the file, :func:`normalize_layout` gives one row per participant x
visit with one column per outcome, and a config that names those columns, so that the checks
and the analysis table (:mod:`pilottrial.data.table`) see one layout only.

A baseline given as a column of the post-baseline rows (``outcomes[].baseline_column``: ADaM
``BASE``, a ``BASVAL`` column) becomes a baseline row per participant, under the visit label
:data:`~pilottrial.config.load.BASELINE_VISIT`, so that the analysis table is the one the same
trial would give with baseline rows.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from pilottrial.config.load import BASELINE_VISIT, baseline_from_column
from pilottrial.data.checks import check_identifiers, check_scores, missing_columns
from pilottrial.data.readers import source_lines, source_unit
from pilottrial.errors import InputError

__all__ = ["normalize_layout"]

#: Prefix of the long frame's columns holding the baseline scores of the wide and ADaM layouts.
_BASE = "baseline score: "


def normalize_layout(frame: pd.DataFrame, config: dict, covariates=()) -> tuple[pd.DataFrame, dict]:
    """Any layout to long: one row per participant x visit, one column per outcome.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data as read (:func:`pilottrial.data.readers.read_trial_data`).
    config : dict
        Trial config; ``data.layout`` is ``long``, ``wide`` (one row per participant, a column
        per outcome x visit: ``outcomes[].columns``) or ``adam`` (a BDS dataset, one row per
        participant x visit x parameter: ``outcomes[].paramcd``; ``ANL01FL`` selects records and
        ``ABLFL`` marks the baseline). Long data with ``visits.windows`` have their study days
        (``columns.day``) mapped to nominal visits.
    covariates : sequence of str
        Per-participant columns carried to every long row
        (:func:`pilottrial.data.table.model_covariates`).

    Returns
    -------
    (pandas.DataFrame, dict)
        The long frame (indexed by source line/record, for messages) and a copy of the config
        whose ``columns.visit`` and ``outcomes[].column`` name its columns. ``data.drop_columns``
        are dropped and the de-identification guard (:func:`pilottrial.data.checks.check_identifiers`)
        applied first.
    """
    config = copy.deepcopy(config)
    covariates = list(covariates)
    drop = [c for c in config["data"].get("drop_columns", []) if c in frame.columns]
    attrs = dict(frame.attrs)
    frame = frame.drop(columns=drop)
    frame.attrs.update(attrs)
    check_identifiers(frame, config)
    missing_columns(frame, covariates, config["data"]["path"])
    pid = config["columns"]["participant"]
    per_participant = frame.groupby(pid, sort=False)[covariates].first() if covariates else None
    layout = config["data"]["layout"]
    from_column = baseline_from_column(config)
    if layout == "wide":
        frame, visit_col, outcome_cols, base_cols = _wide_to_long(frame, config)
    elif layout == "adam":
        frame, visit_col, outcome_cols, base_cols = _adam_to_long(frame, config)
    else:
        if config["visits"].get("windows"):
            frame = _apply_windows(frame, config)
            frame.attrs.update(attrs)
        base_cols = {o["name"]: o["baseline_column"] for o in config["outcomes"] if o.get("baseline_column")}
        if from_column:
            missing_columns(frame, list(base_cols.values()), config["data"]["path"])
            check_scores(frame, config, [(o, base_cols[o["name"]]) for o in config["outcomes"] if o["name"] in base_cols])
    if layout != "long":
        config["columns"]["visit"] = visit_col
        for o in config["outcomes"]:
            o["column"] = outcome_cols[o["name"]]
        for c in covariates:
            frame[c] = frame[pid].map(per_participant[c])
    if from_column:
        frame = _baseline_rows(frame, config, base_cols, covariates)
        config["visits"]["baseline"] = BASELINE_VISIT
        config["visits"]["order"] = [BASELINE_VISIT] + list(config["visits"]["order"])
    frame.attrs.update(attrs)
    return frame, config


def _baseline_rows(frame, config, base_cols, covariates):
    """Add one baseline row per participant from the baseline columns (``{outcome name: column
    of frame}``, numeric): visit :data:`BASELINE_VISIT`, the outcome columns holding the baseline
    scores. The baseline must be the same on all rows of a participant; in a change analysis it
    must be given for every participant."""
    cols = config["columns"]
    path = config["data"]["path"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    labelled = frame[visit].map(lambda v: v.strip() if isinstance(v, str) else v) == BASELINE_VISIT
    if labelled.any():
        raise InputError(f"the data have rows for visit {BASELINE_VISIT!r} although the baseline is a column "
                         f"(outcomes[].baseline_column)", file=path, unit=source_unit(frame),
                         rows=source_lines(frame.index[labelled]), column=visit,
                         fix="use visits.baseline (and no baseline_column) when the data have baseline rows")
    people = frame[frame[pid].notna()]
    groups = people.groupby(pid, sort=False)
    arms = groups[arm].first()
    rows = pd.DataFrame({pid: arms.index, arm: arms.to_numpy(), visit: BASELINE_VISIT})
    # each baseline row points to the participant's first line (for messages)
    rows.index = people.index.to_series().groupby(people[pid].to_numpy(), sort=False).min().reindex(arms.index).to_numpy()
    change = config.get("analysis", {}).get("response", "change") != "raw"
    for o in config["outcomes"]:
        column = base_cols.get(o["name"])
        if column is None:
            rows[o["column"]] = np.nan
            continue
        distinct = groups[column].nunique()
        if (distinct > 1).any():
            who = distinct[distinct > 1].index[0]
            values = sorted(people.loc[people[pid] == who, column].dropna().unique())
            raise InputError(f"participant {who!r} has different baseline {o['name']} scores {values[:4]} in column "
                             f"{o.get('baseline_column', column)!r}", file=path, unit=source_unit(frame),
                             rows=source_lines(people.index[people[pid] == who]), column=o.get("baseline_column", column),
                             fix="the baseline column holds one baseline score per participant, the same on each row")
        baseline = groups[column].first()
        if change and baseline.isna().any():
            who = baseline[baseline.isna()].index[0]
            raise InputError(f"participant {who!r} has no baseline {o['name']} score in column "
                             f"{o.get('baseline_column', column)!r}", file=path, unit=source_unit(frame),
                             rows=source_lines(people.index[people[pid] == who]), column=o.get("baseline_column", column),
                             fix="the change from baseline needs a baseline score for every participant")
        rows[o["column"]] = baseline.reindex(arms.index).to_numpy()
    for c in covariates:
        rows[c] = groups[c].first().reindex(arms.index).to_numpy()
    out = pd.concat([rows, frame], sort=False)
    out.attrs.update(frame.attrs)
    return out


def _wide_to_long(frame, config):
    cols = config["columns"]
    path = config["data"]["path"]
    pid, arm = cols["participant"], cols["arm"]
    from_column = baseline_from_column(config)
    base_cols = {o["name"]: o["baseline_column"] for o in config["outcomes"] if from_column and o.get("baseline_column")}
    needed = [pid, arm] + [c for o in config["outcomes"] for c in o["columns"].values()] + list(base_cols.values())
    missing_columns(frame, needed, path)
    dup = frame[pid].duplicated(keep=False) & frame[pid].notna()
    if dup.any():
        raise InputError(f"participant {frame.loc[dup, pid].iloc[0]!r} has more than one row in wide data",
                         file=path, unit=source_unit(frame), rows=source_lines(frame.index[dup]), column=pid,
                         fix="keep one row per participant in the wide layout")
    check_scores(frame, config, [(o, c) for o in config["outcomes"] for c in o["columns"].values()]
                 + [(o, base_cols[o["name"]]) for o in config["outcomes"] if o["name"] in base_cols])
    visits = [v for v in config["visits"]["order"] if any(v in o["columns"] for o in config["outcomes"])]
    parts = []
    for v in visits:
        part = frame[[pid, arm]].copy()
        part["visit"] = v
        for o in config["outcomes"]:
            part[o["name"]] = frame[o["columns"][v]] if v in o["columns"] else np.nan
            if o["name"] in base_cols:
                part[_BASE + o["name"]] = frame[base_cols[o["name"]]]
        parts.append(part)
    long = pd.concat(parts)
    long.attrs.update(frame.attrs)
    return (long, "visit", {o["name"]: o["name"] for o in config["outcomes"]},
            {name: _BASE + name for name in base_cols})


def _adam_to_long(frame, config):
    cols = config["columns"]
    path = config["data"]["path"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    paramcd, value = cols.get("paramcd", "PARAMCD"), cols.get("value", "AVAL")
    if paramcd not in frame.columns:
        raise InputError(f"column {paramcd!r} not found: an ADaM BDS dataset selects outcomes by parameter code",
                         file=path, column=paramcd,
                         fix="export the BDS dataset with PARAMCD (or set columns.paramcd to its name)")
    missing_columns(frame, [pid, arm, visit, value], path)
    if "ANL01FL" in frame.columns:
        frame = frame[frame["ANL01FL"].fillna("").str.upper() == "Y"]
    wanted = {o["paramcd"]: o for o in config["outcomes"]}
    absent = [p for p in wanted if p not in set(frame[paramcd])]
    if absent:
        raise InputError(f"PARAMCD value(s) {absent} not found (present: {sorted(frame[paramcd].dropna().unique())})",
                         file=path, column=paramcd, fix="correct outcomes[].paramcd in the config")
    frame = frame[frame[paramcd].isin(wanted)].copy()
    from_column = baseline_from_column(config)
    base_of = {code: o["baseline_column"] for code, o in wanted.items() if from_column and o.get("baseline_column")}
    missing_columns(frame, sorted(set(base_of.values())), path)
    if from_column and "ABLFL" in frame.columns:  # the baseline comes from BASE: drop the baseline records
        frame = frame[frame["ABLFL"].fillna("").str.upper() != "Y"].copy()
    for code, o in wanted.items():
        columns = [value] + ([base_of[code]] if code in base_of else [])
        sub = frame.loc[frame[paramcd] == code, columns].copy()
        sub.attrs.update(frame.attrs)
        check_scores(sub, config, [(o, c) for c in columns])  # numeric and in range, per parameter
    for c in {value, *base_of.values()}:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    baseline = config["visits"].get("baseline")
    if baseline and "ABLFL" in frame.columns:
        frame.loc[frame["ABLFL"].fillna("").str.upper() == "Y", visit] = baseline
    dup = frame.duplicated([pid, visit, paramcd], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise InputError(f"participant {first[pid]!r} has more than one {first[paramcd]} record at {first[visit]!r}",
                         file=path, unit=source_unit(frame), rows=source_lines(frame.index[dup]), column=visit,
                         fix="keep one analysis record per parameter and visit (ANL01FL = 'Y')")
    source_line = frame.groupby([pid, visit], sort=False).apply(lambda g: g.index.min(), include_groups=False)
    frame = frame.dropna(subset=[pid, arm, visit])
    long = frame.groupby([pid, arm, visit, paramcd], sort=False)[value].first().unstack(paramcd).reset_index()
    long.index = [source_line.get((p, v), 0) for p, v in zip(long[pid], long[visit])]
    long.columns.name = None
    for code in wanted:
        if code not in long.columns:
            long[code] = np.nan
    base_cols = {}
    for code, column in base_of.items():  # each parameter's baseline on the rows of its visits
        name = wanted[code]["name"]
        records = frame[frame[paramcd] == code].groupby([pid, visit], sort=False)[column].first()
        long[_BASE + name] = [records.get((p, v), np.nan) for p, v in zip(long[pid], long[visit])]
        base_cols[name] = _BASE + name
    long.attrs.update(frame.attrs)
    return long, visit, {o["name"]: o["paramcd"] for o in config["outcomes"]}, base_cols


def _apply_windows(frame, config):
    """Map study days to nominal visits by ``visits.windows``; nearest to the window's middle wins."""
    cols = config["columns"]
    path = config["data"]["path"]
    day = cols["day"]
    missing_columns(frame, [day], path)
    days = pd.to_numeric(frame[day], errors="coerce")
    bad = frame[day].notna() & days.isna()
    if bad.any():
        raise InputError(f"study day {frame.loc[bad, day].iloc[0]!r} is not a number", file=path,
                         unit=source_unit(frame), rows=source_lines(frame.index[bad]), column=day,
                         fix="write study days as whole numbers")
    labels = pd.Series(np.nan, index=frame.index, dtype=object)
    distance = pd.Series(np.inf, index=frame.index)
    for label, (lo, hi) in config["visits"]["windows"].items():
        inside = (days >= lo) & (days <= hi)
        dist = (days - (lo + hi) / 2).abs()
        better = inside & (dist < distance)
        labels[better], distance[better] = label, dist[better]
    frame = frame.assign(**{cols.get("visit", "visit"): labels, "_distance": distance})
    frame = frame[frame[cols.get("visit", "visit")].notna()]
    frame = frame.sort_values("_distance", kind="stable")
    frame = frame[~frame.duplicated([cols["participant"], cols.get("visit", "visit")], keep="first")]
    return frame.drop(columns="_distance").sort_index()
