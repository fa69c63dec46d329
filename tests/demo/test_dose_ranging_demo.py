"""Tests for the three-arm dose-ranging demo (pilottrial.demo.dose_ranging) and its config."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT

from pilottrial.demo.dose_ranging import (
    DOSE_ARM_SIZES,
    DOSE_ARMS,
    DOSE_RANGING_FILES,
    DOSE_RANGING_SEED,
    main,
    simulate_dose_ranging,
    true_dose_effects,
)
from pilottrial.demo.parameters import OUTCOMES, POST_VISITS, TRUE_EFFECT, VISITS

DEMO_DIR = REPO_ROOT / "data/demo"


@pytest.mark.parametrize("key", sorted(DOSE_RANGING_FILES))
def test_cli_regenerates_the_bundled_files_byte_for_byte(tmp_path: Path, key: str) -> None:
    """Regression/byte-identity check: the shipped files are exactly what the generator writes."""
    main([str(tmp_path)])
    assert (tmp_path / DOSE_RANGING_FILES[key]).read_bytes() == (DEMO_DIR / DOSE_RANGING_FILES[key]).read_bytes()


def test_layout_arms_and_dropout() -> None:
    tables = simulate_dose_ranging()
    trial = tables["trial"]
    per = trial.groupby("participant")
    assert (per.size() == len(VISITS)).all()
    assert per["arm"].first().value_counts().to_dict() == DOSE_ARM_SIZES
    miss = trial[list(OUTCOMES)].isna()
    assert (miss.all(axis=1) | ~miss.any(axis=1)).all()
    assert miss.all(axis=1).groupby(trial["participant"]).any().sum() == 4  # round(0.1 * 40)
    assert set(tables["dissociation"]["participant"]) == set(trial["participant"])
    assert set(tables["adverse_events"]["participant"]) <= set(trial["participant"])
    assert (tables["screening_log"]["randomized"] == "yes").sum() == 40


def test_large_sample_recovers_the_dose_scaled_effects() -> None:
    """With 4000 per arm the observed effects are within 0.6 points (about 3 SE) of the truth."""
    trial = simulate_dose_ranging(seed=3, n_per_arm=4000)["trial"]
    truth = true_dose_effects().set_index(["outcome", "visit"])
    for o in OUTCOMES:
        wide = trial.pivot(index=["participant", "arm"], columns="visit", values=o).astype("float64")
        change = wide[list(POST_VISITS)].sub(wide["baseline"], axis=0).groupby(level="arm").mean()
        for v in POST_VISITS:
            for arm in DOSE_ARMS[1:]:
                observed = change.loc[arm, v] - change.loc["midazolam", v]
                assert abs(observed - truth.loc[(o, v), f"effect_{arm}"]) < 0.6, (o, v, arm)
    assert truth.loc[("caps5", "24h"), "effect_ketamine-0.2"] == pytest.approx(0.4 * TRUE_EFFECT["caps5"]["24h"])


def test_large_sample_dissociation_rises_with_dose() -> None:
    tables = simulate_dose_ranging(seed=5, n_per_arm=3000)
    arms = tables["trial"].drop_duplicates("participant").set_index("participant")["arm"]
    means = tables["dissociation"].assign(arm=lambda d: d["participant"].map(arms)).groupby("arm")["cadss"].mean()
    np.testing.assert_allclose(means[list(DOSE_ARMS)], [2.0, 6.0, 12.0], atol=0.6)


def test_readme_documents_the_true_dose_effects() -> None:
    text = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert str(DOSE_RANGING_SEED) in text
    names = {"CAPS-5": "caps5", "PCL-5": "pcl5", "MADRS": "madrs"}
    pattern = re.compile(
        r"^\|\s*(CAPS-5|PCL-5|MADRS|amygdala_reactivity|hippocampus_reactivity)\s*\|\s*(24h|7d|30d)\s*\|"
        + r"\s*(-?[\d.]+)\s*\|" * 5 + r"\s*$",
        re.MULTILINE,
    )
    documented = {(names.get(o, o), v): tuple(map(float, vals)) for o, v, *vals in pattern.findall(text)}
    columns = [f"change_{a}" for a in DOSE_ARMS] + [f"effect_{a}" for a in DOSE_ARMS[1:]]
    expected = {(r["outcome"], r["visit"]): tuple(r[c] for c in columns) for _, r in true_dose_effects().iterrows()}
    assert documented.keys() == expected.keys()
    for key, values in expected.items():
        np.testing.assert_allclose(documented[key], values, atol=1e-9, err_msg=str(key))


def test_config_loads_as_a_three_arm_trial() -> None:
    from pilottrial.config import Trial
    from pilottrial.config.load import load_config

    config = load_config(REPO_ROOT / "config" / "dose_ranging.yaml")
    trial = Trial.from_config(config)
    assert trial.arms == DOSE_ARMS
    assert [c.name for c in trial.comparisons] == list(DOSE_ARMS[1:])
    assert trial.arm_adjustment == "dunnett"
    data = pd.read_csv(Path(config["data"]["path"]))
    assert set(data["arm"]) == set(DOSE_ARMS)
