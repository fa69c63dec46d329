"""Any trial by config: file formats, wide and ADaM layouts, study-day windows, covariates and
the de-identification guard. Each alternative form of the demo trial must give the same
analysis table as the bundled CSV."""

import copy

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from conftest import REPO_ROOT

from pilottrial.config.load import load_config, validate_config
from pilottrial.data import load_trial
from pilottrial.errors import InputError
from pilottrial.models.mmrm import fit_mmrm
from pilottrial.models.primary import fit_outcome_mmrm, model_frame

DEMO_CONFIG = load_config(REPO_ROOT / "config" / "config.yaml")
# the layouts are exercised on the three efficacy outcomes (the imaging outcomes are not reshaped)
DEMO_CONFIG["outcomes"] = [o for o in DEMO_CONFIG["outcomes"] if o["column"] in ("caps5", "pcl5", "madrs")]
DEMO_CSV = REPO_ROOT / DEMO_CONFIG["data"]["path"]
OUTCOME_COLUMNS = {"caps5": "CAPS-5", "pcl5": "PCL-5", "madrs": "MADRS"}


@pytest.fixture(scope="module")
def demo():
    return pd.read_csv(DEMO_CSV)


@pytest.fixture(scope="module")
def expected(demo_analysis):
    """The analysis table of the bundled CSV, for the outcomes of DEMO_CONFIG."""
    names = [o["name"] for o in DEMO_CONFIG["outcomes"]]
    return demo_analysis[demo_analysis["outcome"].isin(names)].reset_index(drop=True)


def config_for(path, **changes):
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"]["path"] = str(path)
    for key, value in changes.items():
        raw[key] = value
    return validate_config(raw)


def same_table(got, expected):
    cols = ["participant", "arm", "visit", "outcome", "baseline", "score", "change"]
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True), expected[cols].reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.parametrize("suffix", ["tsv", "xlsx", "parquet", "sav", "dta", "xpt"])
def test_every_format_gives_the_same_analysis_table(tmp_path, demo, expected, suffix):
    path = tmp_path / f"trial.{suffix}"
    if suffix == "tsv":
        demo.to_csv(path, sep="\t", index=False)
    elif suffix == "xlsx":
        demo.to_excel(path, index=False)
    elif suffix == "parquet":
        demo.to_parquet(path, index=False)
    elif suffix == "sav":
        pyreadstat.write_sav(demo, str(path))
    elif suffix == "dta":
        pyreadstat.write_dta(demo, str(path))
    else:
        pyreadstat.write_xport(demo, str(path), file_format_version=8)
    same_table(load_trial(config_for(path)), expected)


def test_excel_title_above_the_header_needs_header_row(tmp_path, demo, expected):
    path = tmp_path / "titled.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Ketamine pilot export"]]).to_excel(writer, index=False, header=False)
        demo.to_excel(writer, index=False, startrow=2)
    with pytest.raises(InputError, match=r"header is not on row 1.*data.header_row"):
        load_trial(config_for(path))
    config = config_for(path)
    config["data"]["header_row"] = 3
    same_table(load_trial(config), expected)


def test_format_override_and_unknown_extension(tmp_path, demo, expected):
    path = tmp_path / "trial.dat"
    demo.to_csv(path, index=False)
    with pytest.raises(InputError, match="unknown data file type '.dat'"):
        load_trial(config_for(path))
    config = config_for(path)
    config["data"]["format"] = "csv"
    same_table(load_trial(config), expected)


def wide_demo(demo):
    wide = demo.pivot(index=["participant", "arm"], columns="visit", values=list(OUTCOME_COLUMNS)).reset_index()
    wide.columns = [f"{a}_{b}" if b else a for a, b in wide.columns]
    return wide


def test_wide_layout(tmp_path, demo, expected):
    path = tmp_path / "wide.csv"
    wide_demo(demo).to_csv(path, index=False)
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"] = {"path": str(path), "layout": "wide"}
    raw["columns"] = {"participant": "participant", "arm": "arm"}
    for o in raw["outcomes"]:
        column = o.pop("column")
        o["columns"] = {v: f"{column}_{v}" for v in raw["visits"]["order"]}
    same_table(load_trial(validate_config(raw)), expected)


def test_wide_layout_errors_name_the_wide_column(tmp_path, demo):
    wide = wide_demo(demo)
    wide.loc[3, "pcl5_7d"] = 99
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"] = {"path": str(path), "layout": "wide"}
    raw["columns"] = {"participant": "participant", "arm": "arm"}
    for o in raw["outcomes"]:
        column = o.pop("column")
        o["columns"] = {v: f"{column}_{v}" for v in raw["visits"]["order"]}
    with pytest.raises(InputError) as info:
        load_trial(validate_config(raw))
    assert "column 'pcl5_7d'" in info.value.one_line() and "line 5" in info.value.one_line()
    del raw["outcomes"][0]["columns"]["30d"]
    raw["outcomes"][0]["columns"]["90d"] = "caps5_30d"
    with pytest.raises(InputError, match=r"visits \['90d'\] not in visits.order"):
        validate_config(raw)


def adam_demo(demo):
    long = demo.melt(id_vars=["participant", "arm", "visit", "age", "sex"], value_vars=list(OUTCOME_COLUMNS),
                     var_name="PARAMCD", value_name="AVAL")
    long["PARAMCD"] = long["PARAMCD"].str.upper()
    adqs = pd.DataFrame({
        "STUDYID": "KETPTSD", "USUBJID": long["participant"], "TRT01P": long["arm"],
        "AVISIT": long["visit"].replace({"baseline": "Baseline"}), "PARAMCD": long["PARAMCD"],
        "AVAL": long["AVAL"], "ABLFL": np.where(long["visit"] == "baseline", "Y", ""),
        "ANL01FL": "Y",
    })
    # a non-analysis duplicate record that ANL01FL must exclude
    extra = adqs.iloc[[5]].assign(AVAL=1.0, ANL01FL="")
    return pd.concat([adqs, extra], ignore_index=True)


def adam_config(path):
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"] = {"path": str(path), "layout": "adam"}
    raw["columns"] = {"participant": "USUBJID", "arm": "TRT01P"}
    for o in raw["outcomes"]:
        o["paramcd"] = o.pop("column").upper()
    return raw


def test_adam_layout(tmp_path, demo, expected):
    path = tmp_path / "adqs.csv"
    adam_demo(demo).to_csv(path, index=False)
    same_table(load_trial(validate_config(adam_config(path))), expected)


def test_adam_without_paramcd(tmp_path, demo):
    path = tmp_path / "adqs.csv"
    adam_demo(demo).drop(columns="PARAMCD").to_csv(path, index=False)
    with pytest.raises(InputError, match="column 'PARAMCD' not found: an ADaM BDS dataset"):
        load_trial(validate_config(adam_config(path)))


def test_study_day_windows_map_to_nominal_visits(tmp_path, demo, expected):
    rng = np.random.default_rng(4)
    days = {"baseline": 0, "24h": 1, "7d": 7, "30d": 30}
    timed = demo.copy()
    timed["day"] = [days[v] + (int(rng.integers(-2, 3)) if v in ("7d", "30d") else 0) for v in timed.visit]
    timed = timed.drop(columns="visit")
    # an extra record outside every window and one further from the window's middle
    late = timed.iloc[[0]].assign(day=90)
    second = timed[timed.day.between(28, 32)].iloc[[0]].assign(day=35, caps5=0)
    path = tmp_path / "days.csv"
    pd.concat([timed, late, second]).to_csv(path, index=False)
    raw = copy.deepcopy(DEMO_CONFIG)
    raw["data"]["path"] = str(path)
    raw["columns"] = {"participant": "participant", "arm": "arm", "visit": "visit", "day": "day"}
    raw["visits"]["windows"] = {"baseline": [-7, 0], "24h": [1, 2], "7d": [4, 10], "30d": [24, 36]}
    same_table(load_trial(validate_config(raw)), expected)


@pytest.mark.parametrize("column,values,kind", [
    ("email", lambda n: [f"p{i}@example.org" for i in range(n)], "name"),
    ("contact", lambda n: [f"p{i}@example.org" for i in range(n)], "e-mail addresses"),
    ("notes", lambda n: [f"555-01{i % 100:02d}-{1000 + i}" for i in range(n)], "phone numbers"),
    ("when", lambda n: [f"2024-03-{1 + i % 28:02d}" for i in range(n)], "full dates"),
    ("code9", lambda n: [f"123-45-{6789 - i:04d}" for i in range(n)], "social security numbers"),
    ("dob", lambda n: ["zz-hidden"] * n, "name"),
])
def test_identifier_columns_are_refused_without_showing_values(tmp_path, demo, column, values, kind):
    frame = demo.copy()
    frame[column] = values(len(frame))
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_trial(config_for(path))
    message = info.value.one_line()
    assert f"{column} ({kind})" in message and "drop_columns" in message
    assert str(frame[column].iloc[0]) not in message
    config = config_for(path)
    config["data"]["drop_columns"] = [column]
    assert len(load_trial(config)) == 27 * 4 * len(config["outcomes"])


def test_covariates_enter_every_model(demo):
    config = config_for(DEMO_CSV)
    config["analysis"]["covariates"] = ["age", "sex"]
    analysis = load_trial(config)
    assert {"age", "sex"} <= set(analysis.columns)
    fit = fit_outcome_mmrm(analysis, "CAPS-5", config)
    assert {"age", "sex[T.M]"} <= set(fit.terms)
    frame = model_frame(analysis, "CAPS-5", config)
    direct = fit_mmrm(frame, "change ~ baseline + age + sex + arm * visit", subject="participant", visit="visit")
    np.testing.assert_allclose(fit.beta, direct.beta, rtol=1e-8)
    plain = fit_outcome_mmrm(load_trial(config_for(DEMO_CSV)), "CAPS-5", config_for(DEMO_CSV))
    assert not np.allclose(fit.treatment_contrasts("arm", "midazolam", "ketamine").estimate,
                           plain.treatment_contrasts("arm", "midazolam", "ketamine").estimate)


def test_missing_covariate_column_is_named(demo):
    config = config_for(DEMO_CSV)
    config["analysis"]["strata"] = ["site"]
    with pytest.raises(InputError, match=r"\['site'\]"):
        load_trial(config)
