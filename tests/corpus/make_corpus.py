"""Regenerate the corpus of malformed trials (tests/corpus/<case>/) from the demo trial.

    python tests/corpus/make_corpus.py

Each case folder holds ``config.yaml``, its data file and ``expect.txt`` (fragments that the
one-line error must contain, one per line). ``tests/provenance/test_corpus_checks.py`` runs each
case through the checks the workflow runs before any job; ``tests/workflow/test_corpus.py`` runs a
few of them through Snakemake.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEMO_CSV = REPO / "data" / "demo" / "ketamine_ptsd_demo.csv"
DEMO_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
# each case is about one problem: the demo's three efficacy outcomes, no optional blocks
DEMO_CONFIG["outcomes"] = [o for o in DEMO_CONFIG["outcomes"] if o["column"] in ("caps5", "pcl5", "madrs")]
for optional in ("harms", "feasibility", "power"):
    DEMO_CONFIG.pop(optional, None)
COLUMNS = ["participant", "arm", "visit", "age", "sex", "caps5", "pcl5", "madrs"]


def demo() -> pd.DataFrame:
    return pd.read_csv(DEMO_CSV, dtype=str, keep_default_na=False)[COLUMNS]


def config(**changes) -> dict:
    out = copy.deepcopy(DEMO_CONFIG)
    for key, value in changes.items():
        out[key] = value
    return out


def wide() -> pd.DataFrame:
    frame = pd.read_csv(DEMO_CSV)[COLUMNS]
    w = frame.pivot(index=["participant", "arm"], columns="visit", values=["caps5", "pcl5", "madrs"]).reset_index()
    w.columns = [f"{a}_{b}" if b else a for a, b in w.columns]
    return w


def wide_config(outcomes=("caps5", "pcl5", "madrs")) -> dict:
    c = config()
    c["data"] = {"path": "data.csv", "layout": "wide"}
    c["columns"] = {"participant": "participant", "arm": "arm"}
    for o in c["outcomes"]:
        col = o.pop("column")
        o["columns"] = {v: f"{col}_{v}" for v in c["visits"]["order"]}
    return c


def adam() -> pd.DataFrame:
    frame = pd.read_csv(DEMO_CSV)[COLUMNS]
    long = frame.melt(id_vars=["participant", "arm", "visit"], value_vars=["caps5", "pcl5", "madrs"],
                      var_name="PARAMCD", value_name="AVAL")
    return pd.DataFrame({"USUBJID": long.participant, "TRT01P": long.arm, "AVISIT": long.visit,
                         "PARAMCD": long.PARAMCD.str.upper(), "AVAL": long.AVAL})


def adam_config() -> dict:
    c = config()
    c["data"] = {"path": "data.csv", "layout": "adam"}
    c["columns"] = {"participant": "USUBJID", "arm": "TRT01P"}
    for o in c["outcomes"]:
        o["paramcd"] = o.pop("column").upper()
    return c


def edit(frame, row, column, value):
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


def csv_text(frame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def cases():
    """(name, config dict, data: str | bytes | DataFrame | callable(path), data file name, expect)."""
    d = demo()
    first = d.participant.iloc[0]
    yield "missing_column", config(), d.drop(columns="madrs"), "data.csv", ["['madrs']", "not in the data"]
    yield "unknown_arm", config(), edit(d, 4, "arm", "placebo"), "data.csv", ["unknown arm label", "line 6", "'arm'"]
    yield "duplicate_row", config(), pd.concat([d, d.iloc[[2]]]), "data.csv", ["more than one row", "lines 4, 110"]
    yield "non_numeric_score", config(), edit(d, 1, "pcl5", "twelve"), "data.csv", ["'twelve' is not a number", "line 3", "'pcl5'"]
    yield "out_of_range_score", config(), edit(d, 6, "caps5", "81"), "data.csv", ["outside its range [0, 80]", "line 8"]
    yield "negative_score", config(), edit(d, 7, "madrs", "-1"), "data.csv", ["outside its range [0, 60]", "line 9"]
    yield "missing_baseline_row", config(), d[~((d.participant == first) & (d.visit == "baseline"))], "data.csv", ["no baseline row"]
    yield "missing_baseline_score", config(), edit(d, 0, "caps5", ""), "data.csv", ["missing baseline CAPS-5 score", "line 2"]
    yield "one_arm_only", config(), d[d.arm == "ketamine"], "data.csv", ["no participant in arm 'midazolam'"]
    yield "participant_in_two_arms", config(), edit(d, 1, "arm", "midazolam" if d.arm.iloc[1] == "ketamine" else "ketamine"), "data.csv", ["more than one arm"]
    yield "blank_participant", config(), edit(d, 3, "participant", ""), "data.csv", ["empty cell", "line 5", "'participant'"]
    no30 = d.copy()
    no30.loc[no30.visit == "30d", ["caps5", "pcl5", "madrs"]] = ""
    yield "key_visit_without_data", config(), no30, "data.csv", ["key visit '30d' has no scores"]
    yield "empty_file", config(), "", "data.csv", ["data file is empty"]
    yield "header_only", config(), ",".join(COLUMNS) + "\n", "data.csv", ["a header but no rows"]
    yield "semicolon_delimiter", config(), d.to_csv(index=False, sep=";"), "data.csv", ["not comma-separated"]
    latin = csv_text(d).replace(first, first[:-1] + "\u00e9", 1).encode("latin-1")
    yield "latin1_encoding", config(), latin, "data.csv", ["not UTF-8", "line 2"]
    yield "visit_not_in_order", config(), edit(d, 1, "visit", "day1"), "data.csv", ["unknown visit label(s) ['day1']"]
    yield "unknown_extension", config(data={"path": "data.txt", "layout": "long"}), d, "data.txt", ["unknown data file type '.txt'"]
    yield "corrupt_parquet", config(data={"path": "data.parquet", "layout": "long"}), b"not a parquet file at all", "data.parquet", ["cannot be read as parquet"]

    def titled_excel(path):
        with pd.ExcelWriter(path) as writer:
            pd.DataFrame([["Trial export"]]).to_excel(writer, index=False, header=False)
            d.to_excel(writer, index=False, startrow=2)
    yield "excel_header_offset", config(data={"path": "data.xlsx", "layout": "long"}), titled_excel, "data.xlsx", ["header is not on row 1", "data.header_row"]
    identifiers = d.assign(email=[f"person{i}@example.org" for i in range(len(d))])
    yield "identifier_by_name", config(), identifiers, "data.csv", ["email (name)", "drop_columns"]
    phones = d.assign(contact=[f"555-01{i % 100:02d}-{2000 + i}" for i in range(len(d))])
    yield "identifier_by_content", config(), phones, "data.csv", ["contact (phone numbers)"]
    dates = d.assign(when=[f"2025-0{1 + i % 9}-1{i % 10}" for i in range(len(d))])
    yield "identifier_full_dates", config(), dates, "data.csv", ["when (full dates)"]
    w = wide()
    yield "wide_columns_missing", wide_config(), w.drop(columns="pcl5_7d"), "data.csv", ["['pcl5_7d']"]
    yield "wide_duplicate_participant", wide_config(), pd.concat([w, w.iloc[[0]]]), "data.csv", ["more than one row in wide data"]
    a = adam()
    yield "adam_without_paramcd", adam_config(), a.drop(columns="PARAMCD"), "data.csv", ["'PARAMCD' not found"]
    yield "adam_unknown_paramcd", adam_config(), a[a.PARAMCD != "MADRS"], "data.csv", ["PARAMCD value(s) ['MADRS'] not found"]
    # config problems
    c = config()
    c["analysis"]["alpah"] = 0.1
    yield "config_typo", c, d, "data.csv", ["did you mean 'alpha'"]
    c = config()
    c["outcome"] = c["outcomes"][0]
    yield "config_unknown_top_key", c, d, "data.csv", ["unknown key(s) ['outcome']", "did you mean 'outcomes'"]
    c = config()
    c["arms"]["treatment"] = "midazolam"
    yield "reference_equals_treatment", c, d, "data.csv", ["both 'midazolam'"]
    c = config()
    c["visits"]["order"] = ["24h", "baseline", "7d", "30d"]
    yield "baseline_not_first", c, d, "data.csv", ["must be the first entry"]
    c = config()
    c["visits"]["key"] = ["24h", "90d"]
    yield "key_visit_unknown", c, d, "data.csv", ["visits.key ['90d']"]
    c = config()
    c["outcomes"][1]["primary"] = True
    yield "two_primary_outcomes", c, d, "data.csv", ["2 outcomes are marked primary"]
    c = config()
    c["outcomes"][0]["range"] = [80, 0]
    yield "range_reversed", c, d, "data.csv", ["min >= max"]
    c = config()
    c["analysis"]["df_method"] = "z-test"
    yield "df_method_unknown", c, d, "data.csv", ["analysis.df_method", "satterthwaite"]
    yield "data_file_missing", config(data={"path": "nowhere.csv", "layout": "long"}), None, "data.csv", ["data file not found"]
    c = config()
    del c["outcomes"][2]["column"]
    yield "long_outcome_without_column", c, d, "data.csv", ["has no 'column'"]
    c = config()
    c["visits"]["windows"] = {"7d": [5, 9]}
    yield "windows_without_day_column", c, d, "data.csv", ["visits.windows needs columns.day"]
    c = config()
    c["analysis"]["covariates"] = ["site"]
    yield "covariate_missing", c, d, "data.csv", ["['site']"]
    # Not here: a --configfile that is not valid YAML is parsed, and reported, by Snakemake itself
    # before the workflow runs; pilottrial.config.load.load_config's own message is tested in tests/config/test_config.py.


def main():
    for old in HERE.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    count = 0
    for name, cfg, data, filename, expect in cases():
        folder = HERE / name
        folder.mkdir()
        if isinstance(cfg, str):
            (folder / "config.yaml").write_text(cfg)
        else:
            cfg = copy.deepcopy(cfg)
            cfg["trial"]["name"] = f"corpus-{name.replace('_', '-')}"
            given = Path(cfg["data"]["path"]).name
            kept = given if given in ("nowhere.csv", filename) else filename
            cfg["data"]["path"] = kept  # relative to the config file
            (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        target = folder / filename
        if isinstance(data, pd.DataFrame):
            target.write_text(csv_text(data))
        elif isinstance(data, str):
            target.write_text(data)
        elif isinstance(data, bytes):
            target.write_bytes(data)
        elif callable(data):
            data(target)
        (folder / "expect.txt").write_text("\n".join(expect) + "\n")
        count += 1
    print(f"{count} cases written to {HERE}")


if __name__ == "__main__":
    main()
