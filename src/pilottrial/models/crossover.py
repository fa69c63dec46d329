r"""The two-period, two-treatment (2x2) crossover trial: analysis table, mixed model, carry-over.

Each participant is randomized to a sequence (for example ``KM``: ketamine in period 1,
midazolam in period 2; ``MK``: the reverse) and is rated before each period's treatment (the
period baseline) and at one timepoint after it. The analysis variable is the change from the
period baseline, :math:`y_{ip} = \text{score}_{ip} - \text{baseline}_{ip}`.

Primary model (:func:`crossover_contrasts`), a linear mixed model with a random participant
intercept, fitted by REML:

.. math::
    y_{ip} = \mu + \tau\,[\text{treatment}_{ip} = T] + \pi\,[p = 2] + \gamma\,[\text{sequence}_i = 2]
             + \beta\,\text{baseline}_{ip} + u_i + \varepsilon_{ip},
    \quad u_i \sim N(0, \sigma_u^2),\ \varepsilon_{ip} \sim N(0, \sigma^2),

the sequence and period-baseline terms being optional (``crossover.adjust_sequence``,
``crossover.adjust_period_baseline``). The marginal covariance of a participant's two rows is
compound symmetry, :math:`V_i = \sigma_u^2 J + \sigma^2 I`, so the small-sample inference of the
MMRM engine applies at statsmodels' REML estimate (:func:`pilottrial.models.mmrm.mmrm_at` with
``covariance="cs"`` and the period as the within-participant index): fixed-effect covariance
:math:`(X'V^{-1}X)^{-1}` with Satterthwaite degrees of freedom, or the Kenward-Roger adjusted
covariance and df (with :math:`W` from the expected information, as Kenward & Roger 1997 and
R pbkrtest; the observed information, as SAS, on request). Participants with one period
contribute to the between-participant information. The treatment effect :math:`\tau` is
treatment minus reference.

Carry-over (:func:`carryover_test`): the Grizzle (1965) / Hills & Armitage (1979) test compares
participant totals :math:`y_{i1} + y_{i2}` between the sequences. It is a between-participant
comparison with low power, and the two-stage procedure that lets it choose between the
crossover and the first-period analysis inflates the type I error (Freeman 1989); it is
reported for information only and never decides the analysis (Senn 2002, ch. 3).

References
----------
Grizzle JE (1965). The two-period change-over design and its use in clinical trials.
Biometrics 21:467-480.
Hills M, Armitage P (1979). The two-period cross-over clinical trial. Br J Clin Pharmacol
8:7-20.
Freeman PR (1989). The performance of the two-stage analysis of two-treatment, two-period
crossover trials. Stat Med 8:1421-1432.
Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed. Wiley.
Kenward MG, Jones B (2014). Design and Analysis of Cross-Over Trials, 3rd ed. CRC Press.
Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum
likelihood. Biometrics 53:983-997.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from pilottrial.errors import InputError
from pilottrial.models.mmrm import MMRMError, mmrm_at

__all__ = [
    "crossover_settings",
    "crossover_table",
    "crossover_formula",
    "fit_crossover_lmm",
    "crossover_contrasts",
    "crossover_models",
    "carryover_test",
    "crossover_descriptives",
    "TABLE_COLUMNS",
    "CONTRAST_COLUMNS",
    "CARRYOVER_COLUMNS",
    "DESCRIPTIVE_COLUMNS",
    "MODEL_NAME",
]

#: Columns of :func:`crossover_table`.
TABLE_COLUMNS = ["outcome", "participant", "sequence", "period", "treatment", "period_baseline", "score",
                 "change"]
#: Columns of :func:`crossover_contrasts` (the contract of ``contrasts.csv``).
CONTRAST_COLUMNS = ["outcome", "model", "visit", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                    "p_value"]
#: Columns of :func:`carryover_test`.
CARRYOVER_COLUMNS = ["outcome", "effect", "contrast", "method", "estimate", "std_error", "df", "t_value",
                     "ci_lower", "ci_upper", "p_value", "n_first", "n_second", "note"]
#: Columns of :func:`crossover_descriptives`.
DESCRIPTIVE_COLUMNS = ["outcome", "by", "sequence", "period", "treatment", "variable", "n", "mean", "sd"]
#: Value of the ``model`` column of :func:`crossover_contrasts`.
MODEL_NAME = "crossover_lmm"

_DF_METHODS = ("satterthwaite", "kenward-roger")
_CARRYOVER_NOTE = ("between-participant test with low power; reported for information, it must not "
                   "decide the analysis (Senn 2002; Freeman 1989)")


# ---- config ----------------------------------------------------------------------------------
def crossover_settings(config: dict) -> dict:
    """The crossover keys of a config with their defaults.

    Parameters
    ----------
    config : dict
        Trial config. Read: ``columns.participant`` (default ``participant``),
        ``columns.sequence``, ``columns.period``, ``columns.treatment`` (defaults: the same
        names), ``arms.reference``, ``arms.treatment``, ``crossover.sequences`` (sequence label
        -> the two arms in period order; required), ``crossover.periods`` (labels of period 1
        and 2 in the data, default ``[1, 2]``), ``crossover.timepoint`` (label of the
        post-treatment rating, default ``"post"``), ``crossover.adjust_sequence`` (default
        true), ``crossover.adjust_period_baseline`` (default true), ``analysis.alpha``
        (default 0.05), ``analysis.df_method`` (default ``satterthwaite``) and, per outcome,
        ``name``, ``column``, ``baseline_column`` (the period-baseline score), ``range``.

    Returns
    -------
    dict
        ``participant, sequence_column, period_column, treatment_column, reference, treatment,
        sequences, periods, timepoint, adjust_sequence, adjust_period_baseline, alpha,
        df_method, outcomes, source`` (the data path, for error messages).
    """
    columns = config.get("columns", {})
    crossover = config.get("crossover", {}) or {}
    arms = config.get("arms", {})
    source = config.get("data", {}).get("path", "config")
    if "reference" not in arms or "treatment" not in arms:
        raise InputError("arms.reference and arms.treatment are required", file="config",
                         fix="name the control arm and the experimental arm under arms:")
    sequences = crossover.get("sequences")
    if not sequences:
        raise InputError("crossover.sequences is required for a crossover trial", file="config",
                         fix="list each sequence with its arms in period order, e.g. KM: [ketamine, midazolam]")
    sequences = {str(k): [str(a) for a in v] for k, v in sequences.items()}
    arm_set = {arms["reference"], arms["treatment"]}
    if len(sequences) != 2 or any(len(v) != 2 or set(v) != arm_set for v in sequences.values()) or \
            len({tuple(v) for v in sequences.values()}) != 2:
        raise InputError(f"crossover.sequences {sequences} is not a two-period, two-treatment design",
                         file="config", fix=f"give two sequences, each receiving both arms {sorted(arm_set)} "
                                            f"once, in opposite orders")
    periods = [str(p) for p in crossover.get("periods", [1, 2])]
    if len(periods) != 2 or len(set(periods)) != 2:
        raise InputError(f"crossover.periods {periods} must name two different periods", file="config",
                         fix="write the period labels used in the data, e.g. [1, 2]")
    analysis = config.get("analysis", {}) or {}
    df_method = str(analysis.get("df_method", "satterthwaite")).lower()
    outcomes = []
    for o in config.get("outcomes", []):
        outcomes.append({"name": o["name"], "column": o.get("column"),
                         "baseline_column": o.get("baseline_column"), "range": o.get("range")})
    return {
        "participant": columns.get("participant", "participant"),
        "sequence_column": columns.get("sequence", "sequence"),
        "period_column": columns.get("period", "period"),
        "treatment_column": columns.get("treatment", "treatment"),
        "reference": arms["reference"], "treatment": arms["treatment"],
        "sequences": sequences, "periods": periods,
        "timepoint": str(crossover.get("timepoint", "post")),
        "adjust_sequence": bool(crossover.get("adjust_sequence", True)),
        "adjust_period_baseline": bool(crossover.get("adjust_period_baseline", True)),
        "alpha": float(analysis.get("alpha", 0.05)),
        "df_method": df_method,
        "outcomes": outcomes,
        "source": source,
    }


# ---- analysis table --------------------------------------------------------------------------
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
        Trial config (see :func:`crossover_settings`).

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


# ---- mixed model -----------------------------------------------------------------------------
def crossover_formula(config: dict) -> str:
    """``change ~ treatment + period [+ sequence] [+ period_baseline]`` as configured."""
    s = crossover_settings(config)
    formula = "change ~ treatment + period"
    if s["adjust_sequence"]:
        formula += " + sequence"
    if s["adjust_period_baseline"]:
        formula += " + period_baseline"
    return formula


def _model_frame(table: pd.DataFrame, outcome: str, s: dict, formula: str) -> pd.DataFrame:
    frame = table[table["outcome"] == outcome]
    needed = ["change"] + (["period_baseline"] if "period_baseline" in formula else [])
    frame = frame.dropna(subset=needed).copy()
    if frame.empty:
        raise MMRMError(f"{outcome}: no participant has a change from the period baseline")
    frame["treatment"] = pd.Categorical(frame["treatment"], [s["reference"], s["treatment"]])
    frame["period"] = pd.Categorical(frame["period"].astype(str), ["1", "2"])
    frame["sequence"] = pd.Categorical(frame["sequence"], list(s["sequences"]))
    return frame


def fit_crossover_lmm(table: pd.DataFrame, outcome: str, config: dict, df_method: str | None = None,
                      information: str = "expected"):
    r"""Random-participant-intercept LMM of one outcome of a 2x2 crossover (REML).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crossover_table` output.
    outcome : str
        Outcome name.
    config : dict
        Trial config (see :func:`crossover_settings`).
    df_method : {"satterthwaite", "kenward-roger", "kenward-roger-linear"}, optional
        Small-sample method; default ``analysis.df_method`` of the config. The covariance is
        linear in its parameters, so ``kenward-roger-linear`` is ``kenward-roger``.
    information : {"expected", "observed"}, default "expected"
        Kenward-Roger only: :math:`W`, the covariance of the variance-parameter estimates,
        from the inverse *expected* REML information, as Kenward & Roger (1997) and R
        pbkrtest, or from the *observed* information (numerical Hessian of the REML
        likelihood) as SAS PROC MIXED and the MMRM engine. Satterthwaite df always use the
        observed information (as SAS and R lmerTest).

    Returns
    -------
    pilottrial.models.mmrm.MMRMFit
        The engine's results at statsmodels' REML estimate :math:`(\sigma_u^2, \sigma^2)`
        (``covariance="cs"``, visit = period): ``coefficients``, ``contrast(L)``,
        ``covariance_parameters``, ``neg2_loglik``.

    Notes
    -----
    Model in the module docstring. statsmodels ``MixedLM`` estimates the variance components
    by REML; :func:`pilottrial.models.mmrm.mmrm_at` then gives :math:`\hat\beta`,
    :math:`\Phi = (X'V^{-1}X)^{-1}` and Satterthwaite (1946) or Kenward-Roger (1997) df,
    with :math:`V_i = \sigma_u^2 J + \sigma^2 I` (SAS ``TYPE=CS`` with parameters ``CS`` =
    :math:`\sigma_u^2` and ``Residual`` = :math:`\sigma^2`; linear in them, so the
    Kenward-Roger adjustment has no second-derivative term, as pbkrtest).

    Raises
    ------
    MMRMError
        When the participant variance is estimated at zero: the LMM is then an independence
        model and its small-sample df are not defined.
    """
    s = crossover_settings(config)
    df_method = (df_method or s["df_method"]).lower().replace("_", "-")
    df_method = {"kr": "kenward-roger", "kenward-roger-linear": "kenward-roger"}.get(df_method, df_method)
    if df_method not in _DF_METHODS:
        raise MMRMError(f"df_method must be one of {_DF_METHODS}, not {df_method!r}")
    if information not in ("expected", "observed"):
        raise MMRMError(f"information must be 'expected' or 'observed', not {information!r}")
    formula = crossover_formula(config)
    frame = _model_frame(table, outcome, s, formula)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = smf.mixedlm(formula, frame, groups=frame["participant"], re_formula="1")
        # BFGS with a tight gradient tolerance reaches lme4's optimum to ~1e-7 (L-BFGS's default
        # stop is ~1e-5 away); the usual chain if it does not converge
        result = model.fit(reml=True, method="bfgs", gtol=1e-10, maxiter=1000)
        if not result.converged:
            result = model.fit(reml=True, method=["lbfgs", "bfgs", "powell"])
    sigma_u2 = float(result.cov_re.iloc[0, 0])
    sigma2 = float(result.scale)
    if not np.isfinite(sigma_u2) or sigma_u2 <= 1e-8 * sigma2:
        raise MMRMError(f"{outcome}: the participant variance of the crossover LMM is estimated at zero "
                        f"(no positive within-participant correlation of the changes); the small-sample "
                        f"df of this model are not defined. Report the period-difference (Hills-Armitage) "
                        f"analysis of carryover_test instead")
    fit = mmrm_at(frame, formula, subject="participant", visit="period", covariance="cs",
                  phi=[sigma_u2, sigma2], method="reml", df_method=df_method)
    if df_method == "kenward-roger" and information == "expected":
        # W = 2 E^-1, E the expected Hessian of -2 log REML likelihood, tr(P V_k P V_l)
        fit = fit.with_kenward_roger(information="expected")
    return fit


def _treatment_row(fit, frame, s) -> np.ndarray:
    """Design-row difference treatment minus reference, other terms fixed."""
    rows = frame.iloc[[0, 0]].copy()
    rows["treatment"] = pd.Categorical([s["reference"], s["treatment"]], [s["reference"], s["treatment"]])
    X = fit.design(rows)
    return X[1] - X[0]


def crossover_contrasts(table: pd.DataFrame, config: dict, df_method: str | None = None,
                        information: str = "expected") -> pd.DataFrame:
    r"""Treatment minus reference in a 2x2 crossover, by the random-intercept LMM.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crossover_table` output.
    config : dict
        Trial config (see :func:`crossover_settings`); ``analysis.alpha`` sets the interval.
    df_method : {"satterthwaite", "kenward-roger"}, optional
        Default ``analysis.df_method``.
    information : {"expected", "observed"}, default "expected"
        Kenward-Roger only; see :func:`fit_crossover_lmm`.

    Returns
    -------
    pandas.DataFrame
        One row per outcome with :data:`CONTRAST_COLUMNS` (the contract of ``contrasts.csv``):
        ``outcome``, ``model`` (``"crossover_lmm"``), ``visit`` (``crossover.timepoint``),
        ``estimate`` (:math:`\hat\tau`, adjusted mean change on treatment minus on reference),
        ``std_error``, ``df``, ``ci_lower``, ``ci_upper`` (t interval) and ``p_value``
        (two-sided t test of :math:`\tau = 0`).

    Notes
    -----
    Model and inference in :func:`fit_crossover_lmm`:
    :math:`t = \hat\tau / \mathrm{SE}`, interval :math:`\hat\tau \pm t_{1-\alpha/2,\nu}\,\mathrm{SE}`.

    References
    ----------
    Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed., ch. 3 and 5. Wiley.
    Kenward MG, Roger JH (1997). Biometrics 53:983-997.

    Examples
    --------
    >>> import yaml, pandas as pd
    >>> config = yaml.safe_load(open("config/crossover.yaml"))
    >>> raw = pd.read_csv(config["data"]["path"])
    >>> crossover_contrasts(crossover_table(raw, config), config)[["outcome", "estimate"]].round(1)
      outcome  estimate
    0   IES-R     -13.2
    """
    s = crossover_settings(config)
    rows = []
    for o in s["outcomes"]:
        if o["name"] not in set(table["outcome"]):
            continue
        fit = fit_crossover_lmm(table, o["name"], config, df_method=df_method, information=information)
        L = _treatment_row(fit, fit.model_frame, s)
        result = fit.contrast(L[None, :], alpha=s["alpha"]).iloc[0]
        rows.append({"outcome": o["name"], "model": MODEL_NAME, "visit": s["timepoint"],
                     **{k: float(result[k]) for k in ("estimate", "std_error", "df", "ci_lower", "ci_upper",
                                                      "p_value")}})
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def crossover_models(table: pd.DataFrame, config: dict, df_method: str | None = None,
                     information: str = "expected") -> pd.DataFrame:
    r"""Details of each outcome's crossover LMM (arguments as :func:`crossover_contrasts`).

    Returns
    -------
    pandas.DataFrame
        One row per outcome: ``outcome, model, formula, covariance`` (``cs``), ``df_method``,
        ``information`` (of the Kenward-Roger :math:`W`; ``observed`` for Satterthwaite),
        ``sigma_u2`` (participant variance), ``sigma2`` (residual variance),
        ``within_correlation`` (:math:`\sigma_u^2/(\sigma_u^2+\sigma^2)`), ``neg2_reml_loglik``,
        ``aic``, ``n_participants`` (with at least one period), ``n_complete`` (both periods),
        ``n_observations``.
    """
    s = crossover_settings(config)
    rows = []
    for o in s["outcomes"]:
        if o["name"] not in set(table["outcome"]):
            continue
        fit = fit_crossover_lmm(table, o["name"], config, df_method=df_method, information=information)
        sigma_u2, sigma2 = (float(v) for v in fit.phi)
        per = fit.model_frame.groupby("participant", observed=True).size()
        rows.append({"outcome": o["name"], "model": MODEL_NAME, "formula": fit.formula, "covariance": "cs",
                     "df_method": fit.df_method,
                     "information": information if fit.df_method == "kenward-roger" else "observed",
                     "sigma_u2": sigma_u2, "sigma2": sigma2,
                     "within_correlation": sigma_u2 / (sigma_u2 + sigma2),
                     "neg2_reml_loglik": fit.neg2_loglik, "aic": fit.aic,
                     "n_participants": int(per.size), "n_complete": int((per == 2).sum()),
                     "n_observations": fit.n_obs})
    return pd.DataFrame(rows)


# ---- carry-over and period (Hills-Armitage) --------------------------------------------------
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
        :func:`crossover_table` output; participants with a change in both periods are used.
    config : dict
        Trial config (see :func:`crossover_settings`).

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

        def by(values, q):
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


# ---- descriptives ----------------------------------------------------------------------------
def crossover_descriptives(table: pd.DataFrame, config: dict) -> pd.DataFrame:
    """n, mean and SD by treatment x period, by treatment and by sequence.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crossover_table` output.
    config : dict
        Trial config (see :func:`crossover_settings`).

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
