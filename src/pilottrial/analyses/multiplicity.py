"""Multiplicity: Holm adjustment of the secondary efficacy outcomes at each key visit.

The primary outcome is tested at the nominal level and is never adjusted. The secondary
efficacy outcomes (``role: efficacy``, not primary) form one family per key visit, and their
MMRM p-values are adjusted by Holm's step-down procedure within that family. Mechanism
outcomes (``role: mechanism``) are exploratory and belong to no family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from pilottrial.models.primary import CONTRAST_COLUMNS

__all__ = ["adjust_contrasts", "ADJUSTED_COLUMNS"]

ADJUSTED_COLUMNS = CONTRAST_COLUMNS + ["p_adjusted", "adjustment"]


def adjust_contrasts(contrasts: pd.DataFrame, config: dict) -> pd.DataFrame:
    """MMRM contrasts at the key visits with multiplicity-adjusted p-values.

    Parameters
    ----------
    contrasts : pandas.DataFrame
        Treatment contrasts with :data:`pilottrial.models.primary.CONTRAST_COLUMNS`, as returned by
        :func:`pilottrial.models.primary.primary_contrasts`. Rows of other models (``lmm``) and of
        visits not in ``visits.key`` are dropped.
    config : dict
        Validated trial config; uses ``outcomes[].primary``, ``outcomes[].role``,
        ``visits.key`` and ``analysis.multiplicity`` (``holm`` or ``none``).

    Returns
    -------
    pandas.DataFrame
        One row per outcome x key visit (outcomes in config order, visits in key order) with
        the contrast columns plus

        * ``p_adjusted`` -- the p-value to read against ``analysis.alpha``;
        * ``adjustment`` -- ``"none (primary)"`` for the primary outcome;
          ``"Holm across secondary outcomes at <visit>"`` for a secondary efficacy outcome;
          ``"none"`` for secondary outcomes when ``analysis.multiplicity`` is ``none``;
          ``"none (mechanism outcome, exploratory)"`` for mechanism outcomes.

        Unadjusted rows have ``p_adjusted == p_value``.

    Notes
    -----
    Holm (1979): with the :math:`m` p-values of a family ordered
    :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,

    .. math::

        \\tilde p_{(i)} = \\min\\Bigl\\{1, \\max_{j \\le i} (m - j + 1)\\, p_{(j)}\\Bigr\\},

    which controls the family-wise error rate in the strong sense without assumptions on the
    dependence between outcomes. Computed by
    ``statsmodels.stats.multitest.multipletests(method="holm")``. A missing p-value (a
    contrast that could not be estimated) is left out of the family and stays missing.

    References
    ----------
    Holm S. A simple sequentially rejective multiple test procedure. *Scand J Stat*
    1979;6:65-70.

    Examples
    --------
    >>> import pandas as pd
    >>> config = {"visits": {"key": ["30d"]}, "analysis": {"multiplicity": "holm"},
    ...           "outcomes": [{"name": "A", "primary": True, "role": "efficacy"},
    ...                        {"name": "B", "primary": False, "role": "efficacy"},
    ...                        {"name": "C", "primary": False, "role": "efficacy"}]}
    >>> contrasts = pd.DataFrame({"outcome": ["A", "B", "C"], "model": "mmrm", "visit": "30d",
    ...                           "estimate": -5.0, "std_error": 2.0, "df": 20.0, "ci_lower": -9.0,
    ...                           "ci_upper": -1.0, "p_value": [0.02, 0.01, 0.04]})
    >>> adjust_contrasts(contrasts, config)[["outcome", "p_adjusted"]]
      outcome  p_adjusted
    0       A        0.02
    1       B        0.02
    2       C        0.04
    """
    missing = [c for c in CONTRAST_COLUMNS if c not in contrasts.columns]
    if missing:
        raise ValueError(f"contrasts lack the columns {missing}; pass the table of primary_contrasts()")
    key_visits = list(config["visits"]["key"])
    outcomes = {o["name"]: o for o in config["outcomes"]}
    order = list(outcomes)
    method = config.get("analysis", {}).get("multiplicity", "holm")

    table = contrasts[(contrasts["model"] == "mmrm") & contrasts["visit"].isin(key_visits)
                      & contrasts["outcome"].isin(order)].copy()
    table["_outcome_order"] = table["outcome"].map(order.index)
    table["_visit_order"] = table["visit"].map(key_visits.index)
    table = table.sort_values(["_outcome_order", "_visit_order"]).drop(columns=["_outcome_order", "_visit_order"])
    table = table.reset_index(drop=True)[CONTRAST_COLUMNS]

    table["p_adjusted"] = table["p_value"].astype(float)
    table["adjustment"] = ""
    is_primary = table["outcome"].map(lambda o: bool(outcomes[o].get("primary")))
    is_mechanism = table["outcome"].map(lambda o: outcomes[o].get("role", "efficacy") == "mechanism")
    secondary = ~is_primary & ~is_mechanism
    table.loc[is_primary, "adjustment"] = "none (primary)"
    table.loc[is_mechanism & ~is_primary, "adjustment"] = "none (mechanism outcome, exploratory)"
    if method == "none":
        table.loc[secondary, "adjustment"] = "none"
        return table[ADJUSTED_COLUMNS]
    for visit in key_visits:
        family = secondary & (table["visit"] == visit)
        table.loc[family, "adjustment"] = f"Holm across secondary outcomes at {visit}"
        tested = family & table["p_value"].notna()
        if tested.any():
            p_values = table.loc[tested, "p_value"].to_numpy(dtype=float)
            table.loc[tested, "p_adjusted"] = multipletests(p_values, method="holm")[1]
    table["p_adjusted"] = table["p_adjusted"].astype(float).clip(upper=1.0)
    table.loc[table["p_value"].isna(), "p_adjusted"] = np.nan
    return table[ADJUSTED_COLUMNS]
