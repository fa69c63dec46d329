"""Trials shaped the way real exports are (issue 14, items 1 and 5): the baseline as a column of
the post-baseline rows (long, wide, ADaM BASE), declared missing-value codes, SPSS user-missing
values and Stata special missing values, SPSS/Stata value labels, and numeric labels that stay
text. Each shape of the demo trial must give the demo's analysis table, or one clear line."""

import copy

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from conftest import REPO_ROOT

from pilottrial.config.load import load_config, validate_config
from pilottrial.data import load_trial, read_trial_data
from pilottrial.errors import InputError

DEMO_CONFIG = load_config(REPO_ROOT / "config" / "config.yaml")
DEMO_CONFIG["outcomes"] = [o for o in DEMO_CONFIG["outcomes"] if o["column"] in ("caps5", "pcl5", "madrs")]
DEMO_CSV = REPO_ROOT / DEMO_CONFIG["data"]["path"]
SCORES = ["caps5", "pcl5", "madrs"]
COLUMNS = ["participant", "arm", "visit", "outcome", "baseline", "score", "change"]


@pytest.fixture(scope="module")
def demo():
    return pd.read_csv(DEMO_CSV, dtype={"participant": str})


@pytest.fixture(scope="module")
def expected():
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"]["path"] = str(DEMO_CSV)
    return load_trial(config)


def same_table(got, expected):
    pd.testing.assert_frame_equal(got[COLUMNS].reset_index(drop=True), expected[COLUMNS].reset_index(drop=True),
                                  check_dtype=False)


def one_line(call):
    with pytest.raises(InputError) as info:
        call()
    message = info.value.one_line()
    assert "\n" not in message and message.startswith("error: ") and "-- fix:" in message
    return message


# --- the baseline as a column ----------------------------------------------------------------

def post_baseline_rows(demo):
    """The demo as an ADaM-like export: post-baseline rows only, each outcome's baseline score
    in a column ``base_<outcome>`` of every row."""
    base = demo[demo["visit"] == "baseline"].set_index("participant")
    post = demo[demo["visit"] != "baseline"].copy()
    for col in SCORES:
        post[f"base_{col}"] = post["participant"].map(base[col])
    return post


def baseline_column_config(path, **data):
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"] = {"path": str(path), **data}
    del raw["visits"]["baseline"]
    raw["visits"]["order"] = ["24h", "7d", "30d"]
    for o in raw["outcomes"]:
        o["baseline_column"] = f"base_{o['column']}"
    return raw


def test_baseline_column_long_gives_the_table_of_baseline_rows(tmp_path, demo, expected):
    path = tmp_path / "post.csv"
    post_baseline_rows(demo).to_csv(path, index=False)
    same_table(load_trial(validate_config(baseline_column_config(path))), expected)


def test_baseline_column_wide_gives_the_table_of_baseline_rows(tmp_path, demo, expected):
    wide = demo.pivot(index=["participant", "arm"], columns="visit", values=SCORES).reset_index()
    wide.columns = [f"{a}_{b}" if b else a for a, b in wide.columns]
    wide = wide.rename(columns={f"{c}_baseline": f"base_{c}" for c in SCORES})
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    raw = baseline_column_config(path, layout="wide")
    raw["columns"] = {"participant": "participant", "arm": "arm"}
    for o in raw["outcomes"]:
        column = o.pop("column")
        o["columns"] = {v: f"{column}_{v}" for v in raw["visits"]["order"]}
    same_table(load_trial(validate_config(raw)), expected)


def test_adam_base_gives_the_table_of_baseline_rows(tmp_path, demo, expected):
    """ADaM BDS with BASE on every record; the baseline records (ABLFL = Y) are not needed."""
    long = demo.melt(id_vars=["participant", "arm", "visit"], value_vars=SCORES, var_name="PARAMCD",
                     value_name="AVAL")
    base = long[long["visit"] == "baseline"].set_index(["participant", "PARAMCD"])["AVAL"]
    long["BASE"] = [base[(p, c)] for p, c in zip(long["participant"], long["PARAMCD"])]
    adqs = pd.DataFrame({"USUBJID": long["participant"], "TRT01P": long["arm"],
                         "AVISIT": long["visit"].replace({"baseline": "Baseline"}),
                         "PARAMCD": long["PARAMCD"].str.upper(), "AVAL": long["AVAL"], "BASE": long["BASE"],
                         "ABLFL": np.where(long["visit"] == "baseline", "Y", "")})
    path = tmp_path / "adqs.csv"
    adqs.to_csv(path, index=False)
    raw = baseline_column_config(path, layout="adam")
    raw["columns"] = {"participant": "USUBJID", "arm": "TRT01P"}
    for o in raw["outcomes"]:
        o["paramcd"] = o.pop("column").upper()
        o["baseline_column"] = "BASE"
    same_table(load_trial(validate_config(raw)), expected)


def test_baseline_column_that_varies_within_a_participant_names_them(tmp_path, demo):
    post = post_baseline_rows(demo)
    who = post["participant"].iloc[4]
    post.loc[post.index[post["participant"] == who][-1], "base_pcl5"] += 3
    path = tmp_path / "post.csv"
    post.to_csv(path, index=False)
    message = one_line(lambda: load_trial(validate_config(baseline_column_config(path))))
    assert f"participant {who!r} has different baseline PCL-5 scores" in message
    assert "column 'base_pcl5'" in message


def test_baseline_column_missing_for_a_participant_in_a_change_analysis(tmp_path, demo):
    post = post_baseline_rows(demo)
    who = post["participant"].iloc[7]
    post.loc[post["participant"] == who, "base_madrs"] = np.nan
    path = tmp_path / "post.csv"
    post.to_csv(path, index=False)
    message = one_line(lambda: load_trial(validate_config(baseline_column_config(path))))
    assert f"participant {who!r} has no baseline MADRS score in column 'base_madrs'" in message


def test_baseline_column_out_of_range_is_refused_like_a_score(tmp_path, demo):
    post = post_baseline_rows(demo)
    post.loc[post.index[0], "base_caps5"] = 81
    path = tmp_path / "post.csv"
    post.to_csv(path, index=False)
    assert "CAPS-5 score 81 is outside its range" in one_line(
        lambda: load_trial(validate_config(baseline_column_config(path))))


# --- missing-value codes -----------------------------------------------------------------------

def test_missing_codes_are_missing_before_the_range_check(tmp_path, demo, expected):
    """-99, 999 (outside 0-80) and '.' in every score column; -9 in MADRS only."""
    coded = demo.astype({c: object for c in SCORES})
    gaps = {c: coded.index[coded[c].isna()] for c in SCORES}
    for col, codes in (("caps5", ["-99", "999", "-99.0"]), ("pcl5", ["999", "."]), ("madrs", ["-9"])):
        coded.loc[gaps[col], col] = [codes[i % len(codes)] for i in range(len(gaps[col]))]
    path = tmp_path / "coded.csv"
    coded.to_csv(path, index=False)
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long", "missing_codes": [-99, 999, "."]}
    config = validate_config(config)
    with pytest.raises(InputError, match="MADRS score -9 is outside its range"):  # -9 is not declared yet
        load_trial(config)
    next(o for o in config["outcomes"] if o["name"] == "MADRS")["missing_codes"] = [-9]
    same_table(load_trial(config), expected)


def test_outcome_missing_codes_apply_to_that_outcome_only(tmp_path, demo):
    frame = demo.copy()
    frame.loc[frame.index[1], ["caps5", "madrs"]] = [0, 0]  # 0 is a real score of CAPS-5
    path = tmp_path / "zero.csv"
    frame.to_csv(path, index=False)
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    next(o for o in config["outcomes"] if o["name"] == "MADRS")["missing_codes"] = [0]
    raw = read_trial_data(validate_config(config))
    assert float(raw.loc[3, "caps5"]) == 0 and pd.isna(raw.loc[3, "madrs"])


def test_spss_user_missing_values_are_missing_without_a_key(tmp_path, demo, expected):
    frame = demo.copy()
    for col in SCORES:
        frame[col] = frame[col].fillna(-9.0)
    path = tmp_path / "trial.sav"
    pyreadstat.write_sav(frame, str(path), missing_ranges={c: [-9.0, {"lo": 900.0, "hi": 999.0}] for c in SCORES})
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    same_table(load_trial(validate_config(config)), expected)


def test_stata_special_missing_values_are_missing(tmp_path, demo, expected):
    frame = demo.copy()
    for col in SCORES:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), "a")
    path = tmp_path / "trial.dta"
    pyreadstat.write_dta(frame, str(path), missing_user_values={c: ["a"] for c in SCORES})
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    same_table(load_trial(validate_config(config)), expected)


# --- value labels ------------------------------------------------------------------------------

def coded_sav(demo, path, arm_labels, visit_labels=None):
    arm_codes = {"midazolam": 1.0, "ketamine": 2.0}
    visit_codes = {"baseline": 0.0, "24h": 1.0, "7d": 2.0, "30d": 3.0}
    frame = demo.assign(arm=demo["arm"].map(arm_codes))
    labels = {"arm": arm_labels}
    if visit_labels:
        frame["visit"] = demo["visit"].map(visit_codes)
        labels["visit"] = visit_labels
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)


def test_value_labels_are_used_when_the_config_names_them(tmp_path, demo, expected):
    path = tmp_path / "coded.sav"
    coded_sav(demo, path, {1.0: "midazolam", 2.0: "ketamine"},
              {0.0: "baseline", 1.0: "24h", 2.0: "7d", 3.0: "30d"})
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    same_table(load_trial(validate_config(config)), expected)


def test_codes_are_used_when_the_config_names_the_codes(tmp_path, demo, expected):
    path = tmp_path / "coded.sav"
    coded_sav(demo, path, {1.0: "Midazolam 0.045 mg/kg", 2.0: "Ketamine 0.5 mg/kg"})
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    config["arms"] = {"reference": 1, "treatment": 2}
    got = load_trial(validate_config(config))
    assert set(got["arm"]) == {"1", "2"}
    assert (got["arm"].map({"1": "midazolam", "2": "ketamine"}) == expected["arm"]).all()


def test_config_matching_codes_and_labels_alike_is_refused(tmp_path, demo):
    """Value labels that rename the codes to other codes: the config cannot say which it means."""
    path = tmp_path / "coded.sav"
    coded_sav(demo, path, {1.0: "2", 2.0: "1"})
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    config["arms"] = {"reference": 1, "treatment": 2}
    message = one_line(lambda: load_trial(validate_config(config)))
    assert "match both the codes and the value labels of column 'arm'" in message


# --- labels are text ---------------------------------------------------------------------------

def test_excel_numeric_cells_are_labels_as_text(tmp_path, demo):
    """Excel stores ids 7 and 007-as-text, arm codes and visit weeks as numbers or text: every
    label column reads as text, so '007' and '7' stay two participants."""
    frame = demo.copy()
    ids = sorted(frame["participant"].unique())
    frame["participant"] = frame["participant"].map({ids[0]: "007", ids[1]: 7} | {p: p for p in ids[2:]})
    frame["arm"] = frame["arm"].map({"midazolam": 0, "ketamine": 1})
    frame["visit"] = frame["visit"].map({"baseline": 0, "24h": 1, "7d": 7, "30d": 30})
    path = tmp_path / "trial.xlsx"
    frame.to_excel(path, index=False)
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"] = {"path": str(path), "layout": "long"}
    config["arms"] = {"reference": 0, "treatment": 1}
    config["visits"] = {"baseline": 0, "order": [0, 1, 7, 30], "key": [1, 30]}
    got = load_trial(validate_config(config))
    assert {"007", "7"} <= set(got["participant"])
    assert got.groupby("participant")["arm"].nunique().max() == 1
    assert got["participant"].nunique() == 27 and list(got["visit"].unique()) == ["0", "1", "7", "30"]


def test_wide_column_map_with_numeric_visit_keys(tmp_path, demo, expected):
    """``columns: {0: caps5_0, 1: caps5_1, ...}`` written as YAML numbers, visits 0/1/7/30."""
    days = {"baseline": "0", "24h": "1", "7d": "7", "30d": "30"}
    wide = demo.assign(visit=demo["visit"].map(days)).pivot(index=["participant", "arm"], columns="visit",
                                                             values=SCORES).reset_index()
    wide.columns = [f"{a}_{b}" if b else a for a, b in wide.columns]
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"] = {"path": str(path), "layout": "wide"}
    raw["columns"] = {"participant": "participant", "arm": "arm"}
    raw["visits"] = {"baseline": 0, "order": [0, 1, 7, 30], "key": [1, 30]}
    for o in raw["outcomes"]:
        column = o.pop("column")
        o["columns"] = {int(d): f"{column}_{d}" for d in days.values()}
    got = load_trial(validate_config(raw))
    assert list(got["visit"].unique()) == ["0", "1", "7", "30"]
    np.testing.assert_allclose(got["change"], expected["change"])


def test_adam_numeric_visit_column(tmp_path, demo, expected):
    """ADaM with AVISITN (1, 2, 3, 4) as the visit column: numeric visit labels match as text."""
    long = demo.melt(id_vars=["participant", "arm", "visit"], value_vars=SCORES, var_name="PARAMCD",
                     value_name="AVAL")
    adqs = pd.DataFrame({"USUBJID": long["participant"], "TRT01P": long["arm"],
                         "AVISITN": long["visit"].map({"baseline": 1.0, "24h": 2.0, "7d": 3.0, "30d": 4.0}),
                         "PARAMCD": long["PARAMCD"].str.upper(), "AVAL": long["AVAL"]})
    path = tmp_path / "adqs.xpt"
    pyreadstat.write_xport(adqs, str(path), file_format_version=8)
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"] = {"path": str(path), "layout": "adam"}
    raw["columns"] = {"participant": "USUBJID", "arm": "TRT01P", "visit": "AVISITN"}
    raw["visits"] = {"baseline": 1, "order": [1, 2, 3, 4], "key": [2, 4]}
    for o in raw["outcomes"]:
        o["paramcd"] = o.pop("column").upper()
    got = load_trial(validate_config(raw))
    assert list(got["visit"].unique()) == ["1", "2", "3", "4"]
    np.testing.assert_allclose(got["change"], expected["change"])


def test_baseline_column_trial_has_the_models_of_the_baseline_row_trial(tmp_path, demo):
    """Downstream of the table, the typed trial sees the baseline visit too (Trial.baseline), so
    that the models use the post-baseline rows only: the same contrasts as with baseline rows."""
    from pilottrial.config import Trial
    from pilottrial.models.primary import primary_contrasts

    path = tmp_path / "post.csv"
    post_baseline_rows(demo).to_csv(path, index=False)
    config = validate_config(baseline_column_config(path))
    trial = Trial.from_config(config)
    assert trial.baseline == "baseline" and trial.post_baseline == ("24h", "7d", "30d")
    reference = copy.deepcopy(DEMO_CONFIG)
    reference["data"]["path"] = str(DEMO_CSV)
    ours, _ = primary_contrasts(load_trial(config), config)
    expected, _ = primary_contrasts(load_trial(reference), reference)
    pd.testing.assert_frame_equal(ours, expected)


def test_label_columns_given_as_numbers_are_checked_as_text(demo, expected):
    """A notebook user's frame with numeric arm and visit codes: compared as text ('1', not 1.0)."""
    from pilottrial.data import check_trial_data, derive_analysis_table

    frame = demo.assign(arm=demo["arm"].map({"midazolam": 0, "ketamine": 1}),
                        visit=demo["visit"].map({"baseline": 0.0, "24h": 1.0, "7d": 7.0, "30d": 30.0}))
    config = copy.deepcopy(DEMO_CONFIG)
    config["data"]["path"] = "notebook"
    config["arms"] = {"reference": 0, "treatment": 1}
    config["visits"] = {"baseline": 0, "order": [0, 1, 7, 30], "key": [1, 30]}
    config = validate_config(config)
    got = derive_analysis_table(check_trial_data(frame, config), config)
    assert set(got["arm"]) == {"0", "1"} and list(got["visit"].unique()) == ["0", "1", "7", "30"]
    np.testing.assert_allclose(got["change"], expected["change"])
