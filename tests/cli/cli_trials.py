"""Trial files `pilottrial init` has never seen, for tests/cli: each written the way one kind of
export writes it (column names, label styles, file format), from one seeded simulation.

    from cli_trials import simulate, write_redcap_csv, ...

Every ``write_*`` returns ``(path, truth)``: the file and what a correct guess is (the columns,
the arms and the reference, the visit order, the outcomes with their published ranges).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat

__all__ = ["simulate", "write_sas_xpt", "write_redcap_csv", "write_titled_excel", "write_spss_labelled",
           "write_wide_codes", "write_baseline_column", "NEW_TRIALS", "write_spss_four_arms", "write_four_levels",
           "MULTI_ARM_TRIALS"]


def simulate(seed: int, arms, visits, outcomes: dict, n_per_arm: int = 8) -> pd.DataFrame:
    """Long data: ``participant``, ``arm``, ``visit`` and one column per outcome
    (``{column: (low, high)}``): integer scores within the range, improving over the visits, more
    under each later arm; participant-level ``age`` and ``sex``."""
    rng = np.random.default_rng(seed)
    rows = []
    for a, arm in enumerate(arms):
        for i in range(n_per_arm):
            person = {"participant": f"P{a}{i:02d}", "arm": arm, "age": int(rng.integers(20, 65)),
                      "sex": rng.choice(["F", "M"])}
            level = {c: rng.uniform(0.45, 0.7) for c in outcomes}
            for k, visit in enumerate(visits):
                row = dict(person, visit=visit)
                for column, (low, high) in outcomes.items():
                    drop = 0.05 * k + 0.06 * k * a
                    value = low + (high - low) * (level[column] - drop) + rng.normal(0, 0.04 * (high - low))
                    row[column] = float(np.clip(np.round(value), low, high))
                rows.append(row)
    return pd.DataFrame(rows)


def write_sas_xpt(folder):
    """SAS transport file, upper-case names (SUBJID, GROUP coded 0/1, VISIT D0 < D7 < W2 < M1,
    MADRSTOT, HAMD17)."""
    frame = simulate(11, [0, 1], ["D0", "W2", "D7", "M1"], {"MADRSTOT": (0, 60), "HAMD17": (0, 52)})
    frame = frame.rename(columns={"participant": "SUBJID", "arm": "GROUP", "visit": "VISIT", "age": "AGE",
                                  "sex": "SEX"})
    path = folder / "study101_efficacy.xpt"
    pyreadstat.write_xport(frame, str(path), file_format_version=8)
    truth = {"layout": "long", "columns": {"participant": "SUBJID", "arm": "GROUP", "visit": "VISIT"},
             "arms": ["0", "1"], "reference": "0", "visits": ["D0", "D7", "W2", "M1"],
             "outcomes": {"MADRS": ("MADRSTOT", (0, 60)), "HAM-D17": ("HAMD17", (0, 52))}}
    return path, truth


def write_redcap_csv(folder):
    """REDCap export: record_id, redcap_event_name (baseline_arm_1 < week_2_arm_1 < week_6_arm_1 <
    month_3_arm_1), randomization group Placebo/Esketamine, phq9_total, gad7_total, a date of birth
    (an identifier) and -99 for missing scores."""
    events = ["baseline_arm_1", "week_6_arm_1", "week_2_arm_1", "month_3_arm_1"]
    frame = simulate(12, ["Esketamine", "Placebo"], events, {"phq9_total": (0, 27), "gad7_total": (0, 21)})
    frame = frame.rename(columns={"participant": "record_id", "arm": "randomization_group",
                                  "visit": "redcap_event_name"})
    frame.insert(1, "dob", [f"19{70 + i % 20}-0{1 + i % 9}-1{i % 9}" for i in range(len(frame))])
    frame.loc[frame.index[[5, 17]], "phq9_total"] = -99
    path = folder / "redcap_export_2025.csv"
    frame.to_csv(path, index=False)
    truth = {"layout": "long", "columns": {"participant": "record_id", "arm": "randomization_group",
                                           "visit": "redcap_event_name"},
             "arms": ["Esketamine", "Placebo"], "reference": "Placebo",
             "visits": ["baseline_arm_1", "week_2_arm_1", "week_6_arm_1", "month_3_arm_1"],
             "outcomes": {"PHQ-9": ("phq9_total", (0, 27)), "GAD-7": ("gad7_total", (0, 21))},
             "identifiers": ["dob"], "missing_codes": [-99]}
    return path, truth


def write_titled_excel(folder):
    """Excel with a title above the header: Subject, Group control/intervention, Timepoint
    "Baseline" < "Day 1" < "Week 2" < "Month 1", BDI_II and IES_R."""
    visits = ["Week 2", "Baseline", "Month 1", "Day 1"]
    frame = simulate(13, ["intervention", "control"], visits, {"BDI_II": (0, 63), "IES_R": (0, 88)})
    frame = frame.rename(columns={"participant": "Subject", "arm": "Group", "visit": "Timepoint"})
    path = folder / "Pilot export (final).xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Pilot trial export, version 3"]]).to_excel(writer, index=False, header=False)
        frame.to_excel(writer, index=False, startrow=2)
    truth = {"layout": "long", "header_row": 3,
             "columns": {"participant": "Subject", "arm": "Group", "visit": "Timepoint"},
             "arms": ["control", "intervention"], "reference": "control",
             "visits": ["Baseline", "Day 1", "Week 2", "Month 1"],
             "outcomes": {"BDI-II": ("BDI_II", (0, 63)), "IES-R": ("IES_R", (0, 88))}}
    return path, truth


def write_spss_labelled(folder):
    """SPSS file: id, treat coded 1/2 with value labels (1 = Saline, 2 = Ketamine), time "pre" <
    24h < 7d < 30d, caps5_total and cadss."""
    frame = simulate(14, [1, 2], ["pre", "7d", "24h", "30d"], {"caps5_total": (0, 80), "cadss": (0, 92)})
    frame = frame.rename(columns={"participant": "id", "arm": "treat", "visit": "time"})
    path = folder / "ket_pilot.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"treat": {1: "Saline", 2: "Ketamine"}})
    truth = {"layout": "long", "columns": {"participant": "id", "arm": "treat", "visit": "time"},
             "arms": ["Saline", "Ketamine"], "reference": "Saline", "visits": ["pre", "24h", "7d", "30d"],
             "outcomes": {"CAPS-5": ("caps5_total", (0, 80)), "CADSS": ("cadss", (0, 92))}}
    return path, truth


def write_wide_codes(folder):
    """Wide Parquet file, one row per participant: pid, arm coded 1/2 (no label says which is the
    control), qids_D0, qids_W1, qids_M1 and gad7_D0, gad7_W1, gad7_M1."""
    long = simulate(15, [2, 1], ["D0", "W1", "M1"], {"qids": (0, 27), "gad7": (0, 21)})
    wide = long.pivot(index=["participant", "arm"], columns="visit", values=["qids", "gad7"])
    wide.columns = [f"{outcome}_{visit}" for outcome, visit in wide.columns]
    wide = wide.reset_index().rename(columns={"participant": "pid"})
    path = folder / "wide_trial.parquet"
    wide.to_parquet(path, index=False)
    truth = {"layout": "wide", "columns": {"participant": "pid", "arm": "arm"}, "arms": ["1", "2"],
             "reference": "1", "undecided": "which arm is the reference", "visits": ["D0", "W1", "M1"],
             "outcomes": {"QIDS-SR": ({"D0": "qids_D0", "W1": "qids_W1", "M1": "qids_M1"}, (0, 27)),
                          "GAD-7": ({"D0": "gad7_D0", "W1": "gad7_W1", "M1": "gad7_M1"}, (0, 21))}}
    return path, truth


def write_baseline_column(folder):
    """Long CSV without baseline rows: USUBJID, TRTA "Placebo"/"Drug A", AVISIT "Week 2" <
    "Week 6" < "Week 12", MADRS with its baseline score as a column on every row (MADRS_BL)."""
    frame = simulate(16, ["Drug A", "Placebo"], ["Week 0", "Week 12", "Week 2", "Week 6"], {"MADRS": (0, 60)})
    baseline = frame[frame["visit"] == "Week 0"].set_index("participant")["MADRS"]
    frame = frame[frame["visit"] != "Week 0"].assign(MADRS_BL=lambda f: f["participant"].map(baseline))
    frame = frame.rename(columns={"participant": "USUBJID", "arm": "TRTA", "visit": "AVISIT"})
    path = folder / "madrs_basval.csv"
    frame.to_csv(path, index=False)
    truth = {"layout": "long", "columns": {"participant": "USUBJID", "arm": "TRTA", "visit": "AVISIT"},
             "arms": ["Drug A", "Placebo"], "reference": "Placebo", "visits": ["Week 2", "Week 6", "Week 12"],
             "outcomes": {"MADRS": ("MADRS", (0, 60))}, "baseline_columns": {"MADRS": "MADRS_BL"}}
    return path, truth


#: The new trial files, by name.
NEW_TRIALS = {"sas_xpt": write_sas_xpt, "redcap_csv": write_redcap_csv, "titled_excel": write_titled_excel,
              "spss_labelled": write_spss_labelled, "wide_codes": write_wide_codes,
              "baseline_column": write_baseline_column}


def write_spss_four_arms(folder, labelled: bool = True):
    """SPSS file of a four-arm dose-ranging trial: subject, group coded 0-3 (rows in the order
    2, 0, 3, 1; 6, 4, 6, 5 participants), with value labels 0 = Placebo, 1 = Psilocybin 5 mg, 2 = Psilocybin 10 mg,
    3 = Psilocybin 25 mg (sorted as text, 10 mg < 25 mg < 5 mg: only the doses give the order);
    visit "Week 0" < "Week 1" < "Week 3" < "Week 6", madrs. ``labelled=False``: the codes only."""
    frame = simulate(31, [2, 0, 3, 1], ["Week 3", "Week 0", "Week 6", "Week 1"], {"madrs": (0, 60)}, n_per_arm=6)
    frame = frame[~frame["participant"].isin(["P205", "P304", "P305"])]  # 6, 4, 6 and 5 participants in arms 0-3
    frame = frame.rename(columns={"participant": "subject", "arm": "group"})
    path = folder / ("psilocybin_doses.sav" if labelled else "psilocybin_codes.sav")
    labels = {0: "Placebo", 1: "Psilocybin 5 mg", 2: "Psilocybin 10 mg", 3: "Psilocybin 25 mg"}
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"group": labels} if labelled else None)
    arms = list(labels.values()) if labelled else ["0", "1", "2", "3"]
    truth = {"layout": "long", "columns": {"participant": "subject", "arm": "group", "visit": "visit"},
             "reference": arms[0], "treatments": arms[1:], "visits": ["Week 0", "Week 1", "Week 3", "Week 6"],
             "outcomes": {"MADRS": ("madrs", (0, 60))}, "per_arm": dict(zip(arms, [6, 4, 6, 5]))}
    if not labelled:
        truth["undecided"] = "which arm is the reference: guessed '0'"
    return path, truth


def write_four_levels(folder):
    """CSV of a four-arm trial with dose levels: record_id, "Treatment group" placebo/low/medium/
    high (rows in the order high, placebo, medium, low; 4 high, 5 in the others), timepoint T0 < T1 < T2, phq9 and gad7."""
    frame = simulate(32, ["high", "placebo", "medium", "low"], ["T2", "T0", "T1"], {"phq9": (0, 27), "gad7": (0, 21)},
                     n_per_arm=5)
    frame = frame[frame["participant"] != "P004"]  # 5 placebo, 5 low, 5 medium, 4 high
    frame = frame.rename(columns={"participant": "record_id", "arm": "Treatment group", "visit": "timepoint"})
    path = folder / "dose_levels.csv"
    frame.to_csv(path, index=False)
    truth = {"layout": "long", "columns": {"participant": "record_id", "arm": "Treatment group", "visit": "timepoint"},
             "reference": "placebo", "treatments": ["low", "medium", "high"], "visits": ["T0", "T1", "T2"],
             "outcomes": {"PHQ-9": ("phq9", (0, 27)), "GAD-7": ("gad7", (0, 21))},
             "per_arm": {"placebo": 5, "low": 5, "medium": 5, "high": 4}}
    return path, truth


#: Trial files with three or more arms, by name.
MULTI_ARM_TRIALS = {"spss_four_arms": write_spss_four_arms,
                    "spss_four_codes": lambda folder: write_spss_four_arms(folder, labelled=False),
                    "four_levels": write_four_levels}
