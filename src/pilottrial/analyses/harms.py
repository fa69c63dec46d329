r"""Harms of a pilot trial: adverse events and dissociation during the infusion.

Two optional inputs, named under ``harms:`` in the config:

* ``harms.adverse_events`` -- a CSV with one row per participant x adverse event
  (columns ``participant``, ``term`` by default); summarised by
  :func:`adverse_event_table` as the number and percentage of participants with each term,
  the risk difference with a Newcombe hybrid-score interval and Fisher's exact test;
* ``harms.dissociation`` -- a CSV with one row per participant (``participant``, ``cadss`` by
  default), e.g. the CADSS total 40 minutes into the infusion; summarised by
  :func:`dissociation_table` by arm, with the difference in means (Welch t) and the
  Hodges-Lehmann shift with the Mann-Whitney test.

:func:`read_harms` reads and checks both files; every problem is a
:class:`~pilottrial.errors.InputError` naming the file, the line(s), the column and the fix.
The denominators are the participants randomized to each arm (``participants``: one row per
participant with ``participant, arm``, e.g. from :func:`participants_table` of the analysis
table): a participant who is not in the adverse-event file had no adverse event.
:func:`harms_tables` makes both tables with the config's arms, alpha and scale; with three or
more arms, one block of rows per comparison (the two-arm table of that pair, on the participants
of its two arms), the blocks in ``Trial.comparisons`` order and a last column ``treatment``.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from pilottrial.analyses.common import as_trial, by_comparison, not_estimable, with_note
from pilottrial.errors import InputError

__all__ = [
    "ADVERSE_EVENT_COLUMNS",
    "DISSOCIATION_COLUMNS",
    "ANY_EVENT",
    "participants_table",
    "read_adverse_events",
    "read_dissociation",
    "read_harms",
    "adverse_event_table",
    "dissociation_table",
    "harms_tables",
]

#: Columns of :func:`adverse_event_table`.
ADVERSE_EVENT_COLUMNS = [
    "term", "n_treatment", "N_treatment", "pct_treatment", "n_reference", "N_reference",
    "pct_reference", "events_treatment", "events_reference", "risk_difference", "rd_ci_lower",
    "rd_ci_upper", "fisher_p",
]
#: Columns of :func:`dissociation_table`.
DISSOCIATION_COLUMNS = [
    "scale", "timepoint", "arm", "statistic", "n", "mean", "sd", "median", "q1", "q3", "minimum",
    "maximum", "estimate", "ci_lower", "ci_upper", "df", "p_value",
]
#: Label of the first row of :func:`adverse_event_table`.
ANY_EVENT = "any adverse event"

_MISSING = ["", "NA", "NaN", "nan", "."]
_CADSS_RANGE = (0, 92)
_EXACT_LIMIT = 50  # exact Mann-Whitney distribution when both arms are smaller than this


# --------------------------------------------------------------------------- reading


def participants_table(analysis: pd.DataFrame) -> pd.DataFrame:
    """One row per participant with ``participant, arm``, sorted by participant.

    Parameters
    ----------
    analysis : pandas.DataFrame
        The analysis table of :func:`pilottrial.data.load_trial` (any table with
        ``participant`` and ``arm`` columns).

    Examples
    --------
    >>> import pandas as pd
    >>> analysis = pd.DataFrame({"participant": ["b", "a", "a"], "arm": ["drug", "placebo", "placebo"]})
    >>> participants_table(analysis).values.tolist()
    [['a', 'placebo'], ['b', 'drug']]
    """
    table = analysis[["participant", "arm"]].drop_duplicates().sort_values("participant")
    return table.reset_index(drop=True).astype({"participant": str, "arm": str})


def _lines(index) -> list:
    return sorted({int(i) + 2 for i in index})  # header is line 1


def _read_csv(path, what: str, key: str) -> pd.DataFrame:
    """Read a harms CSV as text (never modified), with errors for people."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found", file=path,
                         fix=f"check {key} in the config (relative to where snakemake runs)")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"{what} file is empty", file=path, fix="export the file again, with its header line")
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{what} file is not UTF-8 text", file=path, rows=[line],
                         fix="save the file as UTF-8 (CSV UTF-8 in Excel)") from None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=_MISSING,
                            encoding=encoding, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot be read as CSV ({str(exc).strip().splitlines()[-1]})", file=path,
                         fix="save it as comma-separated values with one header line") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for c in frame.columns:
        frame[c] = frame[c].str.strip().replace("", np.nan)
    return frame


def _require_columns(frame: pd.DataFrame, needed: dict, path, key: str) -> None:
    """``needed`` maps the role (participant, term, score) to the configured column name."""
    missing = [c for c in needed.values() if c not in frame.columns]
    if not missing:
        return
    if len(frame.columns) == 1 and any(sep in frame.columns[0] for sep in ";\t|"):
        raise InputError("the file has a single column: it is not comma-separated", file=path,
                         fix="save it as comma-separated values (CSV)")
    hints = [difflib.get_close_matches(c, list(frame.columns), n=1) for c in missing]
    hint = "; ".join(f"{c!r} may be {h[0]!r}" for c, h in zip(missing, hints) if h)
    raise InputError(f"column(s) {missing} are not in the file (found: {list(frame.columns)})", file=path,
                     column=missing[0], fix=hint or f"rename the column in the file or set {key}.columns "
                                                    f"in the config")


def _check_labels(frame, column, path, what):
    blank = frame[column].isna()
    if blank.any():
        raise InputError(f"empty {what}", file=path, rows=_lines(frame.index[blank]), column=column,
                         fix=f"fill in the {what} on every row, or delete empty rows")


def _check_known(frame, column, participants, path):
    if participants is None:
        return
    known = set(participants["participant"].astype(str))
    unknown = ~frame[column].isin(known)
    if unknown.any():
        codes = sorted(set(frame.loc[unknown, column]))
        raise InputError(f"participant code(s) {codes[:5]} are not in the trial data", file=path,
                         rows=_lines(frame.index[unknown]), column=column,
                         fix="correct the code(s) to match the trial data, or add the participant to the trial data")


def read_adverse_events(config, participants: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Read and check ``harms.adverse_events``; ``None`` when it is not configured.

    Parameters
    ----------
    config : dict or Trial
        Validated config.
    participants : pandas.DataFrame, optional
        ``participant, arm`` of the trial; when given, codes not in it are errors.

    Returns
    -------
    pandas.DataFrame or None
        ``participant, term`` (str), in file order. Extra columns of the file (e.g. severity)
        are ignored. A participant may have several rows with the same term (separate
        episodes): they count as several events but one participant.

    Raises
    ------
    InputError
        File missing, empty or not CSV; configured columns absent; empty participant or
        term; participant codes not in the trial.
    """
    spec = as_trial(config).section("harms").get("adverse_events")
    if not spec:
        return None
    path = spec["path"]
    cols = {"participant": "participant", "term": "term"} | dict(spec.get("columns") or {})
    frame = _read_csv(path, "adverse events", "harms.adverse_events.path")
    _require_columns(frame, cols, path, "harms.adverse_events")
    _check_labels(frame, cols["participant"], path, "participant code")
    _check_labels(frame, cols["term"], path, "adverse event term")
    _check_known(frame, cols["participant"], participants, path)
    out = frame[[cols["participant"], cols["term"]]].copy()
    out.columns = ["participant", "term"]
    return out.reset_index(drop=True)


def read_dissociation(config, participants: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Read and check ``harms.dissociation``; ``None`` when it is not configured.

    Parameters
    ----------
    config : dict or Trial
        Validated config.
    participants : pandas.DataFrame, optional
        ``participant, arm`` of the trial; when given, codes not in it are errors.

    Returns
    -------
    pandas.DataFrame or None
        ``participant`` (str) and ``score`` (float; NaN = not recorded), in file order.

    Raises
    ------
    InputError
        File missing, empty or not CSV; configured columns absent; empty or repeated
        participant code; a score that is not a number, is negative, or (for the CADSS)
        is above 92; participant codes not in the trial.
    """
    spec = as_trial(config).section("harms").get("dissociation")
    if not spec:
        return None
    path = spec["path"]
    name = spec.get("name", "CADSS")
    cols = {"participant": "participant", "score": "cadss"} | dict(spec.get("columns") or {})
    frame = _read_csv(path, "dissociation", "harms.dissociation.path")
    _require_columns(frame, cols, path, "harms.dissociation")
    pid, col = cols["participant"], cols["score"]
    _check_labels(frame, pid, path, "participant code")
    repeated = frame.duplicated(pid, keep=False)
    if repeated.any():
        who = frame.loc[repeated, pid].iloc[0]
        raise InputError(f"participant {who!r} has more than one {name} row", file=path,
                         rows=_lines(frame.index[repeated]), column=pid,
                         fix="keep one row per participant (the assessment named in harms.dissociation.timepoint)")
    text = frame[col]
    score = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & score.isna()
    if bad.any():
        raise InputError(f"{name} score {text[bad].iloc[0]!r} is not a number", file=path,
                         rows=_lines(frame.index[bad]), column=col,
                         fix="write scores as numbers and leave missing scores empty")
    lo, hi = _CADSS_RANGE if name.strip().upper() == "CADSS" else (0, np.inf)
    out_of_range = score.notna() & ((score < lo) | (score > hi))
    if out_of_range.any():
        shown = f"[{lo}, {hi:g}]" if np.isfinite(hi) else f"[{lo}, inf)"
        raise InputError(f"{name} score {score[out_of_range].iloc[0]:g} is outside {shown}", file=path,
                         rows=_lines(frame.index[out_of_range]), column=col,
                         fix="correct the score (the CADSS total is 0-92)" if np.isfinite(hi)
                         else "correct the score (dissociation scores are not negative)")
    _check_known(frame, pid, participants, path)
    return pd.DataFrame({"participant": frame[pid].astype(str), "score": score.astype(float)})


def read_harms(config, participants: pd.DataFrame | None = None) -> dict:
    """Read and check the harms files named in the config.

    Parameters
    ----------
    config : dict or Trial
        Validated config (:func:`pilottrial.config.load.load_config`).
    participants : pandas.DataFrame, optional
        ``participant, arm`` of the trial. When omitted, the trial data are read with
        :func:`pilottrial.data.load_trial` to learn them.

    Returns
    -------
    dict
        ``{"adverse_events": DataFrame or None, "dissociation": DataFrame or None}`` as
        returned by :func:`read_adverse_events` and :func:`read_dissociation`; ``None`` for a
        file that is not configured.
    """
    trial = as_trial(config)
    harms = trial.section("harms")
    if participants is None and (harms.get("adverse_events") or harms.get("dissociation")):
        from pilottrial.data import load_trial

        participants = participants_table(load_trial(trial.config))
    return {
        "adverse_events": read_adverse_events(trial, participants),
        "dissociation": read_dissociation(trial, participants),
    }


# --------------------------------------------------------------------------- adverse events


def adverse_event_table(adverse_events: pd.DataFrame | None, participants: pd.DataFrame, reference: str,
                        treatment: str, alpha: float = 0.05) -> pd.DataFrame:
    r"""Participants with each adverse event by arm, risk difference and Fisher's exact test.

    Parameters
    ----------
    adverse_events : pandas.DataFrame or None
        One row per participant x adverse event with ``participant`` and ``term`` (from
        :func:`read_adverse_events`). ``None`` or empty = no adverse event reported.
    participants : pandas.DataFrame
        One row per randomized participant with ``participant, arm``; gives the
        denominators :math:`N_a`.
    reference, treatment : str
        Arm labels.
    alpha : float, default 0.05
        Intervals are 100(1 - alpha)%.

    Returns
    -------
    pandas.DataFrame
        :data:`ADVERSE_EVENT_COLUMNS`: first a row ``"any adverse event"``, then one row per
        term, most frequent first (ties by term). ``n_*`` participants with at least one
        such event, ``N_*`` randomized, ``pct_*`` = 100 n / N, ``events_*`` number of
        events (rows), ``risk_difference`` = :math:`n_T/N_T - n_R/N_R` (a proportion, not
        percent) with its 100(1 - alpha)% Newcombe interval, ``fisher_p`` two-sided.

    Notes
    -----
    The Newcombe (1998) hybrid score interval (his method 10) combines the Wilson score
    intervals :math:`(l_a, u_a)` of the two proportions:

    .. math::

        \hat\delta - \sqrt{(\hat p_T - l_T)^2 + (u_R - \hat p_R)^2}, \quad
        \hat\delta + \sqrt{(u_T - \hat p_T)^2 + (\hat p_R - l_R)^2},

    computed by ``statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb")``;
    it stays inside [-1, 1] and is defined for 0 or N events. Fisher's exact test conditions
    on the margins of the 2 x 2 table (``scipy.stats.fisher_exact``, two-sided: the sum of
    the probabilities of tables no more likely than the observed one).

    References
    ----------
    Newcombe RG. Interval estimation for the difference between independent proportions:
    comparison of eleven methods. Stat Med 1998;17:873-890.
    Fisher RA. The Design of Experiments. Edinburgh: Oliver and Boyd; 1935.

    Examples
    --------
    >>> import pandas as pd
    >>> participants = pd.DataFrame({"participant": [f"P{i}" for i in range(8)],
    ...                              "arm": ["placebo"] * 4 + ["drug"] * 4})
    >>> events = pd.DataFrame({"participant": ["P4", "P5", "P5", "P0"],
    ...                        "term": ["nausea", "nausea", "headache", "headache"]})
    >>> table = adverse_event_table(events, participants, "placebo", "drug")
    >>> table[["term", "n_treatment", "n_reference", "risk_difference"]]
                    term  n_treatment  n_reference  risk_difference
    0  any adverse event            2            1             0.25
    1           headache            1            1             0.00
    2             nausea            2            0             0.50
    """
    from scipy import stats  # here: reading the harms files (checked at every start) needs no statistics
    from statsmodels.stats.proportion import confint_proportions_2indep

    arm_of = participants.drop_duplicates("participant").set_index("participant")["arm"].astype(str)
    n_arm = {a: int((arm_of == a).sum()) for a in (treatment, reference)}
    events = (pd.DataFrame(columns=["participant", "term"]) if adverse_events is None
              else adverse_events[["participant", "term"]].astype(str))
    unknown = sorted(set(events["participant"]) - set(arm_of.index))
    if unknown:
        raise ValueError(f"adverse events of participants not in `participants`: {unknown[:5]}")
    events = events.assign(arm=events["participant"].map(arm_of))

    def row(term, subset):
        counts = {}
        for a in (treatment, reference):
            in_arm = subset[subset["arm"] == a]
            counts[a] = (in_arm["participant"].nunique(), len(in_arm))
        (n_t, e_t), (n_r, e_r) = counts[treatment], counts[reference]
        N_t, N_r = n_arm[treatment], n_arm[reference]
        if N_t and N_r:
            lo, hi = confint_proportions_2indep(n_t, N_t, n_r, N_r, method="newcomb", compare="diff",
                                                alpha=alpha)
            fisher = stats.fisher_exact([[n_t, N_t - n_t], [n_r, N_r - n_r]]).pvalue
            rd = n_t / N_t - n_r / N_r
        else:
            lo = hi = fisher = rd = np.nan
        return {
            "term": term, "n_treatment": n_t, "N_treatment": N_t,
            "pct_treatment": 100 * n_t / N_t if N_t else np.nan,
            "n_reference": n_r, "N_reference": N_r,
            "pct_reference": 100 * n_r / N_r if N_r else np.nan,
            "events_treatment": e_t, "events_reference": e_r,
            "risk_difference": rd, "rd_ci_lower": float(lo), "rd_ci_upper": float(hi),
            "fisher_p": float(fisher),
        }

    rows = [row(ANY_EVENT, events)]
    per_term = [row(t, g) for t, g in events.groupby("term", sort=True)]
    per_term.sort(key=lambda r: (-(r["n_treatment"] + r["n_reference"]), r["term"]))
    table = pd.DataFrame(rows + per_term, columns=ADVERSE_EVENT_COLUMNS)
    int_cols = ["n_treatment", "N_treatment", "n_reference", "N_reference", "events_treatment",
                "events_reference"]
    empty_arm = not (n_arm[treatment] and n_arm[reference])
    notes = [not_estimable(f"no participant randomized to an arm ({n_arm[reference]} {reference}, "
                           f"{n_arm[treatment]} {treatment})") if empty_arm else ""] * len(table)
    return with_note(table.astype({c: "int64" for c in int_cols}), notes)


# --------------------------------------------------------------------------- dissociation


def _describe(values: np.ndarray) -> dict:
    s = pd.Series(values, dtype=float)
    return {"n": int(s.size), "mean": s.mean(), "sd": s.std(ddof=1), "median": s.median(),
            "q1": s.quantile(0.25), "q3": s.quantile(0.75), "minimum": s.min(), "maximum": s.max()}


def dissociation_table(dissociation: pd.DataFrame | None, participants: pd.DataFrame, reference: str,
                       treatment: str, alpha: float = 0.05, *, score: str = "score", scale: str = "CADSS",
                       timepoint: str = "40 min") -> pd.DataFrame:
    r"""Dissociation scores by arm and the treatment - reference comparison.

    Parameters
    ----------
    dissociation : pandas.DataFrame or None
        One row per participant with ``participant`` and the score (as from
        :func:`read_dissociation`); ``None`` = no scores.
    participants : pandas.DataFrame
        ``participant, arm`` of the randomized participants.
    reference, treatment : str
        Arm labels.
    alpha : float, default 0.05
        Intervals are 100(1 - alpha)%.
    score : str, default "score"
        Column of the scores (e.g. ``cadss`` in the raw file).
    scale, timepoint : str
        Name of the scale and of the assessment, written in the table.

    Returns
    -------
    pandas.DataFrame
        :data:`DISSOCIATION_COLUMNS`, four rows: ``statistic == "summary"`` for the
        reference and the treatment arm (``n`` with a score, mean, SD, median, quartiles
        (linear interpolation, pandas default), minimum, maximum), then two rows with
        ``arm == "<treatment> - <reference>"``: ``"difference in means (Welch)"``
        (estimate, 100(1 - alpha)% Welch t interval, Welch-Satterthwaite ``df``, t-test
        ``p_value``) and ``"Hodges-Lehmann shift (Mann-Whitney)"`` (estimate and
        distribution-free interval from :func:`hodges_lehmann`, Mann-Whitney ``p_value``).
        ``n`` of a comparison row is the number of scores used in both arms. A row that
        cannot be estimated (no score in an arm; for Welch, fewer than two or no variance)
        has NaN numbers, and a ``note`` column, added last when there is such a row, says
        "not estimable: <reason>".

    Notes
    -----
    Welch's interval is
    :math:`\bar x_T - \bar x_R \pm t_{1-\alpha/2,\nu} \sqrt{s_T^2/n_T + s_R^2/n_R}` with
    :math:`\nu = (s_T^2/n_T + s_R^2/n_R)^2 / \{(s_T^2/n_T)^2/(n_T-1) + (s_R^2/n_R)^2/(n_R-1)\}`
    (``scipy.stats.ttest_ind(equal_var=False)``). Dissociation scores are skewed and
    bounded below, so the rank-based comparison is reported alongside. The Mann-Whitney p
    is exact when there are no ties and both arms have fewer than 50 scores, as in R's
    ``wilcox.test``; otherwise the normal approximation with tie and continuity corrections
    (``scipy.stats.mannwhitneyu``).

    References
    ----------
    Welch BL. The generalization of "Student's" problem when several different population
    variances are involved. Biometrika 1947;34:28-35. Mann HB, Whitney DR. On a test of
    whether one of two random variables is stochastically larger than the other. Ann Math
    Stat 1947;18:50-60. Bremner JD et al. Measurement of dissociative states with the
    Clinician-Administered Dissociative States Scale (CADSS). J Trauma Stress 1998;11:125-136.

    Examples
    --------
    >>> import pandas as pd
    >>> participants = pd.DataFrame({"participant": [f"P{i}" for i in range(8)],
    ...                              "arm": ["placebo"] * 4 + ["drug"] * 4})
    >>> scores = pd.DataFrame({"participant": participants["participant"],
    ...                        "score": [2.0, 0.0, 4.0, 1.0, 15.0, 22.0, 9.0, 30.0]})
    >>> table = dissociation_table(scores, participants, "placebo", "drug")
    >>> table[["arm", "statistic", "estimate", "p_value"]].round(4)
                  arm                            statistic  estimate  p_value
    0         placebo                              summary       NaN      NaN
    1            drug                              summary       NaN      NaN
    2  drug - placebo          difference in means (Welch)     17.25   0.0295
    3  drug - placebo  Hodges-Lehmann shift (Mann-Whitney)     16.50   0.0286
    """
    from scipy import stats

    from pilottrial.analyses.nonparametric import hodges_lehmann

    if dissociation is None:
        dissociation = pd.DataFrame({"participant": pd.Series(dtype=str), score: pd.Series(dtype=float)})
    arm_of = participants.drop_duplicates("participant").set_index("participant")["arm"].astype(str)
    frame = dissociation.assign(participant=dissociation["participant"].astype(str))
    frame = frame.assign(arm=frame["participant"].map(arm_of),
                         score=pd.to_numeric(frame[score], errors="coerce").astype(float))
    unknown = sorted(set(frame.loc[frame["arm"].isna(), "participant"]))
    if unknown:
        raise ValueError(f"dissociation scores of participants not in `participants`: {unknown[:5]}")
    values = {a: frame.loc[(frame["arm"] == a) & frame["score"].notna(), "score"].to_numpy()
              for a in (reference, treatment)}
    base = {"scale": scale, "timepoint": timepoint}
    rows = [base | {"arm": a, "statistic": "summary"} | _describe(values[a]) for a in (reference, treatment)]
    notes = [not_estimable(f"no {scale} score in the {a} arm") if not values[a].size else ""
             for a in (reference, treatment)]
    x, y = values[treatment], values[reference]
    label = f"{treatment} - {reference}"
    n_both = int(x.size + y.size)
    welch = {"estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "df": np.nan, "p_value": np.nan}
    if x.size < 2 or y.size < 2:
        notes.append(not_estimable(f"fewer than two {scale} scores in an arm ({y.size} {reference}, "
                                   f"{x.size} {treatment})"))
    elif not (np.var(x) > 0 or np.var(y) > 0):
        notes.append(not_estimable(f"every {scale} score is the same within each arm (no variance)"))
    else:
        notes.append("")
        test = stats.ttest_ind(x, y, equal_var=False)
        ci = test.confidence_interval(confidence_level=1 - alpha)
        welch = {"estimate": float(x.mean() - y.mean()), "ci_lower": float(ci.low),
                 "ci_upper": float(ci.high), "df": float(test.df), "p_value": float(test.pvalue)}
    rows.append(base | {"arm": label, "statistic": "difference in means (Welch)", "n": n_both} | welch)
    hl = hodges_lehmann(x, y, alpha=alpha)
    p_mw = np.nan
    if x.size and y.size:
        ties = np.unique(np.r_[x, y]).size < x.size + y.size
        exact = not ties and x.size < _EXACT_LIMIT and y.size < _EXACT_LIMIT
        p_mw = float(stats.mannwhitneyu(x, y, alternative="two-sided",
                                        method="exact" if exact else "asymptotic").pvalue)
    rows.append(base | {"arm": label, "statistic": "Hodges-Lehmann shift (Mann-Whitney)", "n": n_both,
                        "estimate": hl["estimate"], "ci_lower": hl["ci_lower"], "ci_upper": hl["ci_upper"],
                        "p_value": p_mw})
    notes.append("" if x.size and y.size else not_estimable(f"no {scale} score in an arm ({y.size} {reference}, "
                                                            f"{x.size} {treatment})"))
    table = pd.DataFrame(rows, columns=DISSOCIATION_COLUMNS)
    return with_note(table.astype({"n": "int64"}), notes)


def harms_tables(harms: dict, participants: pd.DataFrame, config) -> dict:
    """The adverse-event and dissociation tables of a trial (``adverse_events.csv``, ``dissociation.csv``).

    Parameters
    ----------
    harms : dict
        ``{"adverse_events": DataFrame or None, "dissociation": DataFrame or None}`` of
        :func:`read_harms`.
    participants : pandas.DataFrame
        ``participant, arm`` of the randomized participants (:func:`participants_table`).
    config : dict or Trial
        Validated config: arms, ``analysis.alpha``, ``harms.dissociation.name``,
        ``.timepoint`` and ``.columns.score``.

    Returns
    -------
    dict
        ``{"adverse_events": adverse_event_table(...), "dissociation": dissociation_table(...)}``.
        Three or more arms: each table is the stack of the two-arm tables of the comparisons
        (:func:`~pilottrial.analyses.common.by_comparison`; each on the participants of the
        pair's two arms, so that the counts, percentages and the summary rows of every arm are
        there), comparisons in ``Trial.comparisons`` order, ending with ``treatment``
        (``Comparison.name``); a ``note`` column, when a block has one, comes before it.
    """
    trial = as_trial(config)
    spec = trial.section("harms").get("dissociation") or {}
    dissociation = harms.get("dissociation")
    score = "score" if dissociation is None or "score" in dissociation.columns else \
        (spec.get("columns") or {}).get("score", "cadss")
    if trial.is_multi_arm:
        return _harms_by_comparison(trial, harms.get("adverse_events"), dissociation, participants, spec, score)
    return {
        "adverse_events": adverse_event_table(harms.get("adverse_events"), participants, trial.reference,
                                              trial.treatment, trial.alpha),
        "dissociation": dissociation_table(dissociation, participants, trial.reference, trial.treatment,
                                           trial.alpha, score=score, scale=spec.get("name", "CADSS"),
                                           timepoint=spec.get("timepoint", "40 min")),
    }


def _members(frame: pd.DataFrame | None, people: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of ``frame`` (adverse events or scores) of the participants in ``people``."""
    if frame is None:
        return None
    return frame[frame["participant"].astype(str).isin(set(people["participant"].astype(str)))]


def _stacked(trial, build, participants: pd.DataFrame) -> pd.DataFrame:
    """:func:`by_comparison` of ``build``, with the ``note`` column (if any block has one) filled
    with "" in the other blocks and kept before the last column ``treatment``."""
    table = by_comparison(trial, build, participants)
    if "note" in table.columns:
        notes = table["note"].fillna("")
        table = table.drop(columns=["note", "treatment"]).assign(note=notes, treatment=table["treatment"])
    return table


def _harms_by_comparison(trial, adverse_events, dissociation, participants, spec: dict, score: str) -> dict:
    """The harms tables of a trial with three or more arms: one block per comparison."""
    def events(pair, people):
        return adverse_event_table(_members(adverse_events, people), people, pair.reference, pair.treatment,
                                   trial.alpha)

    def scores(pair, people):
        return dissociation_table(_members(dissociation, people), people, pair.reference, pair.treatment,
                                  trial.alpha, score=score, scale=spec.get("name", "CADSS"),
                                  timepoint=spec.get("timepoint", "40 min"))

    return {"adverse_events": _stacked(trial, events, participants),
            "dissociation": _stacked(trial, scores, participants)}
