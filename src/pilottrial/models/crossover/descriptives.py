"""Descriptive statistics of a 2x2 crossover: by treatment x period, treatment and sequence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pilottrial.models.crossover.settings import crossover_settings

__all__ = ["crossover_descriptives", "DESCRIPTIVE_COLUMNS"]

#: Columns of :func:`crossover_descriptives`.
DESCRIPTIVE_COLUMNS = ["outcome", "by", "sequence", "period", "treatment", "variable", "n", "mean", "sd"]


def crossover_descriptives(table: pd.DataFrame, config: dict) -> pd.DataFrame:
    """n, mean and SD by treatment x period, by treatment and by sequence.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~pilottrial.models.crossover.table.crossover_table` output.
    config : dict
        Trial config (see :func:`~pilottrial.models.crossover.settings.crossover_settings`).

    Returns
    -------
    pandas.DataFrame
        Long and tidy, columns :data:`DESCRIPTIVE_COLUMNS`. ``by`` is

        * ``"treatment x period"``: one row per treatment x period (its ``sequence`` is the one
          that gives that treatment in that period) x ``variable`` in ``period_baseline``,
          ``score``, ``change``;
        * ``"treatment"``: both periods pooled (``sequence`` and ``period`` = ``"all"``);
        * ``"sequence"``: per sequence, ``variable`` in ``period_baseline``, ``score``,
          ``change`` (both periods pooled, ``period`` = ``"all"``), ``total`` (sum of the two
          changes) and ``period_difference`` (period-1 minus period-2 change), the last two
          over participants with both periods (``treatment`` = ``"both"``).

        ``n`` counts non-missing values; ``period`` is a string (``"1"``, ``"2"``, ``"all"``).
        Sorted by outcome (config order), then the order above.
    """
    s = crossover_settings(config)
    variables = ["period_baseline", "score", "change"]
    arms = [s["reference"], s["treatment"]]
    rows = []

    def summary(values):
        values = pd.Series(values, dtype=float).dropna()
        return {"n": int(values.size), "mean": float(values.mean()) if values.size else np.nan,
                "sd": float(values.std(ddof=1)) if values.size > 1 else np.nan}

    for outcome in [o["name"] for o in s["outcomes"] if o["name"] in set(table["outcome"])]:
        part = table[table["outcome"] == outcome]
        for arm in arms:
            for period in (1, 2):
                sequence = next(q for q, v in s["sequences"].items() if v[period - 1] == arm)
                cell = part[(part["treatment"] == arm) & (part["period"] == period)]
                for v in variables:
                    rows.append({"outcome": outcome, "by": "treatment x period", "sequence": sequence,
                                 "period": str(period), "treatment": arm, "variable": v, **summary(cell[v])})
        for arm in arms:
            cell = part[part["treatment"] == arm]
            for v in variables:
                rows.append({"outcome": outcome, "by": "treatment", "sequence": "all", "period": "all",
                             "treatment": arm, "variable": v, **summary(cell[v])})
        for sequence in s["sequences"]:
            cell = part[part["sequence"] == sequence]
            for v in variables:
                rows.append({"outcome": outcome, "by": "sequence", "sequence": sequence, "period": "all",
                             "treatment": "both", "variable": v, **summary(cell[v])})
            wide = cell.pivot(index="participant", columns="period", values="change").dropna()
            if {1, 2} <= set(wide.columns):
                total, diff = wide[1] + wide[2], wide[1] - wide[2]
            else:
                total = diff = pd.Series(dtype=float)
            rows.append({"outcome": outcome, "by": "sequence", "sequence": sequence, "period": "all",
                         "treatment": "both", "variable": "total", **summary(total)})
            rows.append({"outcome": outcome, "by": "sequence", "sequence": sequence, "period": "all",
                         "treatment": "both", "variable": "period_difference", **summary(diff)})
    return pd.DataFrame(rows, columns=DESCRIPTIVE_COLUMNS)
