"""``pilottrial check``: the pipeline's checks of a config and its data, then a summary.

The checks are those the workflow runs before any job (:func:`pilottrial.config.load_config`,
then :func:`pilottrial.provenance.input_check.run_input_checks`): a config that passes here
passes there. The summary says what the pipeline will analyse: participants per arm (the
reference, then each treatment), the visits (key visits marked), the missing scores per visit and
outcome, and the outcomes with their range and direction.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["check_config", "summary_lines"]


def check_config(config_path) -> tuple[dict, pd.DataFrame]:
    """Load and validate a config, run the pipeline's input checks, and return the config with
    the table the summary is made from (the analysis table of a parallel trial,
    :func:`pilottrial.data.derive_analysis_table`; the crossover table,
    :func:`pilottrial.models.crossover.crossover_table`).

    Raises :class:`pilottrial.errors.InputError` on the first problem.
    """
    from pilottrial.config.load import load_config
    from pilottrial.provenance.input_check import run_input_checks

    config = load_config(config_path)
    run_input_checks(config)
    if config["trial"]["design"] == "crossover":
        from pilottrial.data import read_trial_data
        from pilottrial.models.crossover import crossover_table

        return config, crossover_table(read_trial_data(config), config)
    from pilottrial.data import load_trial

    return config, load_trial(config)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def _outcome_text(outcome: dict) -> str:
    bits = ["primary" if outcome.get("primary") else "secondary" if outcome.get("role", "efficacy") == "efficacy"
            else outcome["role"]]
    rng = outcome.get("range")
    if rng:
        bits.append(f"range {rng[0]}-{rng[1]}")
    bits.append(f"{outcome.get('better', 'lower')} is better")
    return f"{outcome['name']} ({', '.join(bits)})"


def summary_lines(config_path, config: dict, table: pd.DataFrame) -> list[str]:
    """The summary ``pilottrial check`` prints, one string per line."""
    arms = config["arms"]
    outcomes = [o["name"] for o in config["outcomes"]]
    lines = [f"{config_path}: the config and the data pass every check of the pipeline",
             f"  trial {config['trial']['name']!r} ({config['trial']['design']}), data {config['data']['path']} "
             f"({config['data'].get('layout', 'long')} layout)"]
    people = table.drop_duplicates("participant")
    if config["trial"]["design"] == "crossover":
        per_sequence = people["sequence"].value_counts().sort_index()
        lines.append(f"participants: {len(people)} ("
                     + ", ".join(f"sequence {s}: {n}" for s, n in per_sequence.items()) + ")")
        lines.append("periods: " + ", ".join(str(p) for p in config["crossover"]["periods"])
                     + f"; rating at {config['crossover'].get('timepoint', 'post')}")
        rows = [["period", *outcomes]]
        for period, group in table.groupby("period", sort=True):
            rows.append([str(period)] + [f"{int(group.loc[group['outcome'] == o, 'score'].isna().sum())}/"
                                         f"{int((group['outcome'] == o).sum())}" for o in outcomes])
        lines += ["missing scores by period (participants without a score / all randomized):", *_table(rows)]
    else:
        counts = people["arm"].value_counts()
        roles = [(arms["reference"], "reference")] + [(arm, "treatment") for arm in arms.get("treatments")
                                                      or [arms["treatment"]]]
        lines.append(f"participants: {len(people)} ("
                     + ", ".join(f"{arm} ({role}): {counts.get(arm, 0)}" for arm, role in roles) + ")")
        visits = config["visits"]
        keys = set(visits.get("key", []))
        order = list(dict.fromkeys(table["visit"]))
        shown = [f"{v} (baseline)" if v == visits.get("baseline", "baseline") and order[0] == v else
                 f"{v}*" if v in keys else v for v in order]
        lines.append("visits: " + ", ".join(shown) + "  (* key visits)")
        rows = [["visit", *outcomes]]
        n = len(people)
        for visit in order:
            at = table[table["visit"] == visit]
            rows.append([visit] + [f"{int(at.loc[at['outcome'] == o, 'score'].isna().sum())}/{n}" for o in outcomes])
        lines += ["missing scores by visit (participants without a score / all randomized):", *_table(rows)]
    lines.append("outcomes: " + "; ".join(_outcome_text(o) for o in config["outcomes"]))
    covariates = (config.get("analysis") or {}).get("covariates") or []
    if covariates:
        lines.append("covariates: " + ", ".join(covariates))
    lines.append(f"next: pilottrial run {Path(config_path)}")
    return lines
