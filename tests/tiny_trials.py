"""Tiny, degenerate two-arm trials for the not-estimable tests (tests/analyses, tests/planning,
tests/workflow/test_degrade.py).

    from tiny_trials import tiny_trial
    config, analysis = tiny_trial(tmp_path, n_per_arm=3)

Each call writes a long CSV and a config into a folder and reads them back the way the
pipeline does (:func:`pilottrial.config.load_config`, :func:`pilottrial.data.load_trial`), so
that the analysis table is the one a rule sees. Outcomes: ``Symptoms`` (primary, lower is
better, MCID 6, remission below 20), ``Quality of life`` (secondary, higher is better, MCID 10;
scored at baseline only unless ``qol_follow_up``) and, with ``mechanism``, ``ROI`` (mechanism
role, baseline and last visit; ``"constant"`` makes its change the same for everyone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["tiny_trial", "SYMPTOMS", "QOL", "ROI"]

SYMPTOMS, QOL, ROI = "Symptoms", "Quality of life", "ROI"


def tiny_trial(folder, *, n_per_arm: int = 3, visits=("baseline", "v1", "v2"), key=None, seed: int = 1,
               qol_follow_up: bool = False, missing: float = 0.0, empty_arm_at=None, all_respond: bool = False,
               mechanism=None, extra: dict | None = None) -> tuple[dict, pd.DataFrame]:
    """Write and load a tiny trial; returns ``(config, analysis)``.

    Parameters
    ----------
    folder : the folder to write ``data.csv`` and ``config.yaml`` into (created).
    n_per_arm : participants per arm (``placebo`` reference, ``drug`` treatment).
    visits : visit labels, baseline first.
    key : key visits (default: every post-baseline visit).
    qol_follow_up : score quality of life after baseline too.
    missing : probability that a post-baseline symptom score is missing (never the first
        participant of an arm, so that no visit loses an arm by chance).
    empty_arm_at : ``(arm, visit)``: nobody of that arm has a symptom score at that visit.
    all_respond : every post-baseline symptom score is 20% of the baseline (everyone responds).
    mechanism : None, ``"varying"`` or ``"constant"``: an ROI mechanism outcome.
    extra : config blocks merged in (e.g. ``{"analysis": {"imputations": 5}}``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for arm, slope in (("placebo", 3.0), ("drug", 8.0)):
        for i in range(n_per_arm):
            base, qol_base, roi_base = rng.normal(40, 8), rng.normal(50, 10), rng.normal(1.0, 0.3)
            for j, visit in enumerate(visits):
                score = base - slope * j + rng.normal(0, 4)
                if all_respond and j:
                    score = 0.2 * base
                if j and i and rng.random() < missing:
                    score = np.nan
                if empty_arm_at is not None and (arm, visit) == tuple(empty_arm_at):
                    score = np.nan
                row = {"participant": f"{arm[0]}{i:02d}", "arm": arm, "visit": visit,
                       "symptoms": np.nan if np.isnan(score) else round(float(np.clip(score, 0, 80)), 1),
                       "qol": round(qol_base + rng.normal(0, 3), 1) if (j == 0 or qol_follow_up) else np.nan}
                if mechanism:
                    shift = -0.2 if mechanism == "constant" else rng.normal(-0.2, 0.1)
                    row["roi"] = (roi_base if j == 0 else roi_base + shift) if visit in (visits[0], visits[-1]) \
                        else np.nan
                rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "data.csv", index=False)
    outcomes = [{"name": SYMPTOMS, "column": "symptoms", "range": [0, 80], "better": "lower", "primary": True,
                 "mcid": 6, "remission_below": 20},
                {"name": QOL, "column": "qol", "better": "higher", "mcid": 10}]
    if mechanism:
        outcomes.append({"name": ROI, "column": "roi", "better": "lower", "role": "mechanism"})
    config = {
        "trial": {"name": "tiny", "design": "parallel", "phase": "pilot"},
        "data": {"path": "data.csv", "layout": "long"},
        "columns": {"participant": "participant", "arm": "arm", "visit": "visit"},
        "arms": {"reference": "placebo", "treatment": "drug"},
        "visits": {"baseline": visits[0], "order": list(visits), **({"key": list(key)} if key else {})},
        "outcomes": outcomes,
        "analysis": {"imputations": 10, "randomization_draws": 1000},
        "power": {"enabled": False},
    }
    for block, values in (extra or {}).items():
        config.setdefault(block, {}).update(values)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    from pilottrial.config import load_config
    from pilottrial.data import load_trial

    loaded = load_config(folder / "config.yaml")
    return loaded, load_trial(loaded)
