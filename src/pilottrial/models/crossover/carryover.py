"""Carry-over, period and treatment effects of a 2x2 crossover by two-sample t tests.

The Grizzle (1965) / Hills & Armitage (1979) test compares participant totals
:math:`y_{i1} + y_{i2}` between the sequences. It is a between-participant comparison with low
power, and the two-stage procedure that lets it choose between the crossover and the
first-period analysis inflates the type I error (Freeman 1989); it is reported for information
only and never decides the analysis (Senn 2002, ch. 3).

References
----------
Grizzle JE (1965). The two-period change-over design and its use in clinical trials.
Biometrics 21:467-480.
Hills M, Armitage P (1979). The two-period cross-over clinical trial. Br J Clin Pharmacol
8:7-20.
Freeman PR (1989). The performance of the two-stage analysis of two-treatment, two-period
crossover trials. Stat Med 8:1421-1432.
Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed. Wiley.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.models.crossover.settings import crossover_settings

__all__ = ["carryover_test", "CARRYOVER_COLUMNS"]

#: Columns of :func:`carryover_test`.
CARRYOVER_COLUMNS = ["outcome", "effect", "contrast", "method", "estimate", "std_error", "df", "t_value",
                     "ci_lower", "ci_upper", "p_value", "n_first", "n_second", "note"]
_CARRYOVER_NOTE = ("between-participant test with low power; reported for information, it must not "
                   "decide the analysis (Senn 2002; Freeman 1989)")



def _two_sample(first: np.ndarray, second: np.ndarray, scale: float, alpha: float, pooled: bool) -> dict:
    """``scale * (mean(first) - mean(second))`` with a pooled or Welch t interval."""
    n1, n2 = first.size, second.size
    v1, v2 = np.var(first, ddof=1), np.var(second, ddof=1)
    if pooled:
        df = n1 + n2 - 2
        se = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / df * (1 / n1 + 1 / n2))
    else:
        a, b = v1 / n1, v2 / n2
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
    estimate = scale * (first.mean() - second.mean())
    se = abs(scale) * se
    t = estimate / se
    half = stats.t.ppf(1 - alpha / 2, df) * se
    return {"estimate": float(estimate), "std_error": float(se), "df": float(df), "t_value": float(t),
            "ci_lower": float(estimate - half), "ci_upper": float(estimate + half),
            "p_value": float(2 * stats.t.sf(abs(t), df)), "n_first": int(n1), "n_second": int(n2)}


def carryover_test(table: pd.DataFrame, config: dict) -> pd.DataFrame:
    r"""Carry-over, period and treatment effects of a 2x2 crossover by two-sample t tests.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~pilottrial.models.crossover.table.crossover_table` output; participants with a change in both periods are used.
    config : dict
        Trial config (see :func:`~pilottrial.models.crossover.settings.crossover_settings`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CARRYOVER_COLUMNS`; for each outcome and each ``method`` (``pooled``:
        Student's t with pooled variance; ``welch``: Welch's t) the rows

        * ``effect = "carry-over"``: sequence 1 minus sequence 2 difference in the mean
          participant total :math:`T_i = y_{i1} + y_{i2}` (Grizzle 1965; Hills & Armitage
          1979); ``contrast`` e.g. ``"KM - MK (total of both periods)"``;
        * ``effect = "carry-over (period baselines)"``: sequence 1 minus sequence 2 difference
          in the mean drift of the period baseline, :math:`b_{i2} - b_{i1}`: a residual effect
          of the period-1 treatment still present before period 2;
        * ``effect = "period"``: period 2 minus period 1,
          :math:`-(\bar d_1 + \bar d_2)/2` with :math:`d_i = y_{i1} - y_{i2}`;
        * ``effect = "treatment"``: treatment minus reference from the period differences,
          :math:`\pm(\bar d_1 - \bar d_2)/2` (the unadjusted Hills-Armitage analysis, completers).

        ``n_first``, ``n_second``: participants of sequence 1 and 2; ``note`` warns on the
        carry-over rows that the test has low power and must not decide the analysis.

    Notes
    -----
    With carry-over :math:`\lambda_A, \lambda_B` into period 2,
    :math:`E(\bar T_1 - \bar T_2) = \lambda_A - \lambda_B` (plus any between-participant
    sequence difference); its variance involves :math:`4\sigma_u^2 + 2\sigma^2`, so the test
    has far less power than the within-participant treatment comparison. The two-stage
    procedure (test carry-over, then analyse period 1 alone if significant) inflates the type
    I error and is not recommended (Freeman 1989; Senn 2002, sec. 3.10).

    References
    ----------
    Grizzle JE (1965). Biometrics 21:467-480.
    Hills M, Armitage P (1979). Br J Clin Pharmacol 8:7-20.
    Freeman PR (1989). Stat Med 8:1421-1432.
    Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed. Wiley.

    Examples
    --------
    >>> from pilottrial.config import load_config
    >>> from pilottrial.data import read_trial_data
    >>> from pilottrial.models.crossover import crossover_table
    >>> config = load_config("config/crossover.yaml")
    >>> tests = carryover_test(crossover_table(read_trial_data(config), config), config)
    >>> tests[tests["method"] == "pooled"].round(2)[["effect", "estimate", "ci_lower", "ci_upper"]]
                              effect  estimate  ci_lower  ci_upper
    0                     carry-over     -4.37    -15.90      7.16
    2  carry-over (period baselines)      1.21     -4.12      6.54
    4                         period     -2.45     -5.68      0.79
    6                      treatment    -13.24    -16.47    -10.00
    """
    s = crossover_settings(config)
    seq1, seq2 = list(s["sequences"])
    # sign so that the treatment row is treatment minus reference
    treatment_sign = 1.0 if s["sequences"][seq1][0] == s["treatment"] else -1.0
    rows = []
    for outcome in [o["name"] for o in s["outcomes"] if o["name"] in set(table["outcome"])]:
        part = table[table["outcome"] == outcome]
        wide = part.pivot(index=["participant", "sequence"], columns="period",
                          values=["change", "period_baseline"])
        sequence = wide.index.get_level_values("sequence").to_numpy()
        y1, y2 = (wide[("change", p)].to_numpy(dtype=float) for p in (1, 2))
        b1, b2 = (wide[("period_baseline", p)].to_numpy(dtype=float) for p in (1, 2))
        total, diff, drift = y1 + y2, y1 - y2, b2 - b1  # NaN unless both periods observed

        def by(values, q, sequence=sequence):
            return values[(sequence == q) & ~np.isnan(values)]

        specs = [
            ("carry-over", f"{seq1} - {seq2} (total of both periods)", total, 1.0, _CARRYOVER_NOTE),
            ("carry-over (period baselines)", f"{seq1} - {seq2} (period-2 minus period-1 baseline)", drift, 1.0,
             _CARRYOVER_NOTE),
            ("period", "period 2 - period 1", None, None, ""),
            ("treatment", f"{s['treatment']} - {s['reference']} (period differences, unadjusted)", diff,
             treatment_sign / 2, ""),
        ]
        for effect, contrast, values, scale, note in specs:
            for method in ("pooled", "welch"):
                if effect == "period":
                    # -(mean d1 + mean d2)/2 = -(1/2)(mean d1 - mean(-d2))
                    first, second, factor = by(diff, seq1), -by(diff, seq2), -0.5
                else:
                    first, second, factor = by(values, seq1), by(values, seq2), scale
                if min(first.size, second.size) < 2:
                    numbers = {k: np.nan for k in ("estimate", "std_error", "df", "t_value", "ci_lower",
                                                   "ci_upper", "p_value")}
                    numbers |= {"n_first": int(first.size), "n_second": int(second.size)}
                else:
                    numbers = _two_sample(first, second, factor, s["alpha"], pooled=method == "pooled")
                rows.append({"outcome": outcome, "effect": effect, "contrast": contrast, "method": method,
                             **numbers, "note": note})
    return pd.DataFrame(rows, columns=CARRYOVER_COLUMNS)
