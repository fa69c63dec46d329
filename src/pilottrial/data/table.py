"""The analysis table: read, check and derive, in one call.

The analysis table is tidy and long: one row per participant x visit x outcome with columns
``participant, arm, visit, outcome, baseline, score, change`` (``change = score - baseline``),
then the model covariates of the config.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from pilottrial.config.trial import Trial

__all__ = ["load_trial", "read_and_check", "derive_analysis_table", "model_covariates", "read_table",
           "ANALYSIS_COLUMNS", "LABEL_COLUMNS"]

#: The first columns of the analysis table (the model covariates follow).
ANALYSIS_COLUMNS = ["participant", "arm", "visit", "outcome", "baseline", "score", "change"]


#: Columns of the pipeline's tables that hold labels: read as text, never as numbers, so that
#: arm codes 0/1, visit days 1/8/15 and participant ids "007" and "7" stay what the data say.
LABEL_COLUMNS = ("participant", "arm", "visit", "outcome", "treatment", "reference", "comparison",
                 "mechanism_outcome", "primary_outcome")
#: Cell texts read as missing in the numeric columns (pandas' defaults).
_MISSING_NUMBERS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def read_table(path) -> pd.DataFrame:
    r"""Read a table the pipeline wrote (``analysis.csv``, ``contrasts.csv``, ...): the one reader
    every rule uses, so that no step re-infers the type of a label.

    Label columns (:data:`LABEL_COLUMNS`) are text, an empty cell being missing; every other
    column is read as pandas reads a CSV (numbers as numbers, pandas' missing-value texts as
    missing).

    Examples
    --------
    >>> import io
    >>> table = read_table(io.StringIO("participant,arm,visit,score\n007,0,1,3.5\n7,1,8,NA\n"))
    >>> table["participant"].tolist(), table["arm"].tolist(), table["visit"].tolist()
    (['007', '7'], ['0', '1'], ['1', '8'])
    >>> table["score"].tolist()
    [3.5, nan]
    """
    if hasattr(path, "read"):
        text = path.read()
        header = pd.read_csv(io.StringIO(text), nrows=0).columns
        source = io.StringIO(text)
    else:
        header = pd.read_csv(path, nrows=0).columns
        source = path
    labels = [c for c in header if c in LABEL_COLUMNS]
    na_values = {c: ([""] if c in labels else _MISSING_NUMBERS) for c in header}
    return pd.read_csv(source, dtype={c: str for c in labels}, keep_default_na=False, na_values=na_values)


def model_covariates(config: dict) -> list:
    """Covariates and stratification factors named in the config (``analysis.covariates``, then
    ``analysis.strata``), in order, without repeats."""
    a = config.get("analysis", {})
    return list(dict.fromkeys(list(a.get("covariates", [])) + list(a.get("strata", []))))


def read_and_check(config: dict) -> tuple[pd.DataFrame, dict]:
    """Read any format and layout, guard identifiers, check; returns the long frame and the
    config describing it (see :func:`pilottrial.data.layouts.normalize_layout`)."""
    from pilottrial.data.checks import check_trial_data  # here: reading the pipeline's tables needs none of it
    from pilottrial.data.layouts import normalize_layout
    from pilottrial.data.readers import read_trial_data

    frame, long_config = normalize_layout(read_trial_data(config), config, covariates=model_covariates(config))
    return check_trial_data(frame, long_config), long_config


def derive_analysis_table(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Long analysis table: participant, arm, visit, outcome, baseline, score, change.

    Every participant gets a row for every visit in ``visits.order`` and every outcome
    (missing scores stay missing), sorted by outcome (config order), participant, visit.
    ``frame`` and ``config`` as returned by :func:`read_and_check`.
    """
    trial = Trial.from_config(config)
    cols = config["columns"]
    pid, arm, visit = cols["participant"], cols["arm"], cols["visit"]
    visits = list(trial.visit_order)
    participants = frame[[pid, arm]].drop_duplicates().sort_values(pid)
    grid = participants.merge(pd.DataFrame({visit: visits}), how="cross")
    tables = []
    for o in config["outcomes"]:
        scores = frame[[pid, visit, o["column"]]].rename(columns={o["column"]: "score"})
        t = grid.merge(scores, on=[pid, visit], how="left")
        if trial.baseline is not None:
            base = t[t[visit] == trial.baseline].set_index(pid)["score"]
            t["baseline"] = t[pid].map(base)
        else:  # raw-score analysis without a baseline visit
            t["baseline"] = np.nan
        t["change"] = t["score"] - t["baseline"]
        t["outcome"] = o["name"]
        tables.append(t)
    out = pd.concat(tables, ignore_index=True).rename(columns={pid: "participant", arm: "arm", visit: "visit"})
    covariates = model_covariates(config)
    if covariates:
        per_participant = frame.groupby(pid, sort=False)[covariates].first()
        for c in covariates:
            values = out["participant"].map(per_participant[c])
            numeric = pd.to_numeric(values, errors="coerce")
            out[c] = numeric if numeric.notna().sum() == values.notna().sum() else values
    out["visit"] = pd.Categorical(out["visit"], categories=visits)
    out["outcome"] = pd.Categorical(out["outcome"], categories=trial.outcome_names)
    out = out.sort_values(["outcome", "participant", "visit"]).reset_index(drop=True)
    out["visit"] = out["visit"].astype(str)
    out["outcome"] = out["outcome"].astype(str)
    return out[ANALYSIS_COLUMNS + covariates]


def load_trial(config: dict) -> pd.DataFrame:
    """Read, check and derive the analysis table in one call (for notebooks and the pipeline).

    Parameters
    ----------
    config : dict
        A validated trial config (:func:`pilottrial.config.load_config`): the data file
        (``data``), its columns and layout, the arms, visits and outcomes.

    Returns
    -------
    pandas.DataFrame
        One row per outcome x participant x visit (every visit of ``visits.order``, missing
        scores kept as NaN): ``participant, arm, visit, outcome, baseline, score, change`` and
        the covariates of ``analysis.covariates`` / ``analysis.strata``, with
        :math:`\\text{change}_{ij} = \\text{score}_{ij} - \\text{baseline}_i` (NaN without a
        baseline visit, for raw-score analyses). Sorted by outcome (config order), participant
        and visit (config order).

    Raises
    ------
    pilottrial.errors.InputError
        On the first problem in the data, naming the file, the lines, the column and the fix
        (:func:`pilottrial.data.checks.check_trial_data`).

    References
    ----------
    Wickham H (2014). Tidy data. J Stat Softw 59(10):1-23.

    Examples
    --------
    >>> from pilottrial.config import load_config
    >>> analysis = load_trial(load_config("config/config.yaml"))
    >>> analysis.shape
    (540, 7)
    >>> analysis.head(4)
      participant       arm     visit outcome  baseline  score  change
    0     PT-2IKG  ketamine  baseline  CAPS-5      41.0   41.0     0.0
    1     PT-2IKG  ketamine       24h  CAPS-5      41.0   12.0   -29.0
    2     PT-2IKG  ketamine        7d  CAPS-5      41.0   17.0   -24.0
    3     PT-2IKG  ketamine       30d  CAPS-5      41.0   20.0   -21.0
    """
    frame, long_config = read_and_check(config)
    return derive_analysis_table(frame, long_config)
