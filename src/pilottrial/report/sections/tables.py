"""Reading the result tables: columns present, rows selected by label, the primary contrast.

Labels (outcome, arm, visit, analysis) are compared as text, so that a visit read from a CSV
as a number still matches its label in the config.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["table_of", "has_columns", "select_rows", "first_row", "truthy", "mmrm_row"]


def table_of(tables: dict, name: str) -> pd.DataFrame:
    """The table called ``name``, or an empty DataFrame when it was not produced."""
    table = tables.get(name)
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame()


def has_columns(table: pd.DataFrame, *columns: str) -> bool:
    """True when the table has rows and every one of ``columns``."""
    return not table.empty and set(columns) <= set(table.columns)


def select_rows(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """The rows whose ``column`` equals ``value`` (as text) for every ``column=value`` given."""
    if table.empty:
        return table
    mask = np.ones(len(table), dtype=bool)
    for column, value in equal.items():
        if column not in table.columns:
            return table.iloc[0:0]
        mask &= (table[column].astype(str) == str(value)).to_numpy()
    return table.loc[mask]


def first_row(table: pd.DataFrame, **equal) -> pd.Series | None:
    """The first of :func:`select_rows`, or None."""
    rows = select_rows(table, **equal)
    return rows.iloc[0] if len(rows) else None


def truthy(x: Any) -> bool | None:
    """A yes/no cell as a bool (``True``, ``"true"``, ``"1"``, ``"yes"``...); None when it is neither."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    text = str(x).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def mmrm_row(contrasts: pd.DataFrame, outcome: str, visit: str) -> pd.Series | None:
    """The primary (MMRM) contrast of an outcome at a visit in ``contrasts.csv``, or None."""
    if not has_columns(contrasts, "outcome", "model", "visit"):
        return None
    rows = contrasts[(contrasts["outcome"].astype(str) == outcome)
                     & (contrasts["model"].astype(str).str.lower() == "mmrm")
                     & (contrasts["visit"].astype(str) == visit)]
    return rows.iloc[0] if len(rows) else None
