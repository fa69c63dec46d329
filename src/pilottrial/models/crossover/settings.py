"""The crossover keys of a trial config, with their defaults and checks."""

from __future__ import annotations

from pilottrial.errors import InputError

__all__ = ["crossover_settings"]


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
