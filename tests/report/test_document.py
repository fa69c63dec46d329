"""The statistical report as a document: CONSORT order, generated sentences against the tables,
the agreement of the sensitivity analyses, nothing missing shown as nan/None/inf, accessible
self-contained HTML, deterministic HTML and PDF (the manifest and verify tools:
tests/provenance/test_manifest.py)."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from demo_report import REPO_ROOT, demo_report

from pilottrial.report import pdf
from pilottrial.report.document import render_report
from pilottrial.report.sections import SECTION_ORDER, sensitivity_agreement

MINUS = "\u2212"


@pytest.fixture(scope="module")
def demo():
    return demo_report()


def visible_text(document: str) -> str:
    """What a reader sees: no style sheet, no image payloads, no tags, entities decoded."""
    text = re.sub(r"<style>.*?</style>", " ", document, flags=re.S)
    text = re.sub(r'src="data:[^"]*"', 'src=""', text)
    text = re.sub(r"<[^>]+>", " ", text)
    return htmllib.unescape(text)


def ours(x: float, decimals: int = 2) -> str:
    """Independent formatting for the checks: fixed decimals, a real minus sign."""
    text = f"{x:.{decimals}f}"
    return text.replace("-", MINUS) if float(text) != 0 else text.lstrip("-")


def mmrm(demo, outcome: str, visit: str) -> pd.Series:
    c = demo.tables["contrasts"]
    return c[(c.outcome == outcome) & (c.model == "mmrm") & (c.visit == visit)].iloc[0]


# ---- structure ------------------------------------------------------------------------------
def test_sections_follow_the_consort_pilot_order(demo):
    order = [sid for sid, _, _ in SECTION_ORDER]
    positions = [demo.html.find(f'id="{sid}"') for sid in order]
    found = [(p, sid) for p, sid in zip(positions, order) if p >= 0]
    assert [sid for _, sid in sorted(found)] == [sid for _, sid in found]
    for required in ("summary", "objectives", "design", "estimands", "methods", "flow", "baseline", "feasibility",
                     "outcomes", "effect-sizes", "bayes", "responders", "sensitivity", "missing-data", "harms",
                     "mechanism", "warnings", "limitations", "diagnostics", "covariance", "software", "checksums",
                     "config", "reproduce"):
        assert demo.html.count(f'<section id="{required}"') == 1, required
    # parts start on a new page in print
    assert re.search(r"\.part\s*\{[^}]*break-before:\s*page", demo.html)
    assert "@media print" in demo.html and "@page" in demo.html


def test_key_visits_come_first_in_the_outcome_tables(demo):
    section = demo.html.split('<section id="outcomes"')[1].split("</section>")[0]
    table = section.split("CAPS-5: observed scores")[1].split("</table>")[0]
    assert table.index("24 hours") < table.index("30 days") < table.index("7 days")
    assert table.index("Key visits") < table.index("Other visits")


# ---- generated sentences against the tables ---------------------------------------------------
@pytest.mark.parametrize("visit, words", [("24h", "24 hours"), ("30d", "30 days")])
def test_primary_sentences_carry_the_numbers_of_contrasts_csv(demo, visit, words):
    row = mmrm(demo, "CAPS-5", visit)
    assert row.estimate < 0  # the demo's ketamine benefit: lower CAPS-5 is better
    p = f"p = {row.p_value:.3f}" if row.p_value >= 0.001 else "p < 0.001"
    sentence = (f"At {words}, CAPS-5 improved by {ours(abs(row.estimate))} more points with ketamine than with "
                f"midazolam (difference in mean change {ours(row.estimate)} points; 95% CI {ours(row.ci_lower)} to "
                f"{ours(row.ci_upper)}; Satterthwaite df {ours(row.df, 1)}; {p}).")
    text = visible_text(demo.html)
    assert text.count(sentence) == 2  # in the summary and in the outcomes section


def test_other_generated_sentences_match_their_tables(demo):
    text = " ".join(visible_text(demo.html).split())
    post = demo.tables["posterior"]
    flat = post[(post.outcome == "CAPS-5") & (post.visit == "30d") & (post.prior == "flat")].iloc[0]
    assert (f"At 30 days, the probability that ketamine is better than midazolam on CAPS-5 is "
            f"{100 * flat.prob_benefit:.1f}% under a flat prior") in text
    resp = demo.tables["responders"]
    r = resp[(resp.outcome == "CAPS-5") & (resp.visit == "30d") & (resp.definition == "response")].iloc[0]
    assert (f"At 30 days, {r.n_treatment} of {r.N_treatment} ketamine participants ({r.pct_treatment:.1f}%) and "
            f"{r.n_reference} of {r.N_reference} midazolam participants ({r.pct_reference:.1f}%) responded") in text
    feas = demo.tables["feasibility"].set_index(["measure", "arm"])
    screened = int(feas.loc[("screened", "all"), "value"])
    eligible = int(feas.loc[("eligible", "all"), "value"])
    assert f"Of {screened} people screened, {eligible} ({100 * eligible / screened:.1f}%) were eligible" in text
    es = demo.tables["effect_sizes"]
    g = es[(es.outcome == "CAPS-5") & (es.visit == "30d") & (es.method == "mmrm_over_baseline_sd")].iloc[0]
    assert f"g = {ours(g.estimate)} ({ours(g.ci_lower)} to {ours(g.ci_upper)})" in text
    ae = demo.tables["adverse_events"]
    dis = ae[ae.term == "dissociation"].iloc[0]
    assert f"dissociation in {dis.pct_treatment:.1f}% of ketamine and {dis.pct_reference:.1f}% of midazolam" in text


def test_numbers_are_rounded_by_the_one_formatter(demo):
    """No raw floats leak: outside the config listing and the checksums no number has more than
    three decimals, and negative numbers use the minus sign."""
    body = re.sub(r"<pre>.*?</pre>", " ", demo.html, flags=re.S)
    body = body.split('<section id="checksums"')[0] + body.split('<section id="checksums"')[1].split("</section>", 1)[1]
    text = visible_text(body)
    assert not re.findall(r"\d+\.\d{4,}", text)
    assert not re.findall(r"(?<![\w.])-\d", text)


def test_no_nan_none_inf_anywhere_visible(demo):
    """Nowhere in the document; the config listing is literal YAML, where ``null`` is a value."""
    text = visible_text(re.sub(r"<pre>.*?</pre>", " ", demo.html, flags=re.S))
    assert "sceptical_prior_sd: null" in demo.html
    for word in ("nan", "none", "inf", "infinity", "null", "undefined", "NaT", "<NA>"):
        assert not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags=re.IGNORECASE), word


def test_missing_values_render_as_dashes(demo):
    tables = {k: v.copy() for k, v in demo.tables.items()}
    tables["contrasts"].loc[tables["contrasts"].index[0], ["df", "p_value"]] = [np.nan, np.inf]
    tables["responders"].loc[tables["responders"].index[0], "odds_ratio"] = np.nan
    tables["table_one"].iloc[1, 3] = "NA"
    out = render_report(demo.config, tables, demo.figures, demo.provenance)
    text = visible_text(out)
    assert "Satterthwaite df —; p = —" in text
    for word in ("nan", "inf", "None", "NA"):
        assert not re.search(rf"(?<![\w-]){word}(?![\w-])", text), word


def test_a_config_without_the_complete_analysis_still_renders(demo):
    """A trial with only the primary models (no harms, feasibility, sensitivity ...) gets the
    same document with short notes where a table was not produced."""
    tables = {name: demo.tables[name] for name in ("contrasts", "descriptives", "models")}
    config = {k: v for k, v in demo.config.items() if k not in ("harms", "feasibility")}
    out = render_report(config, tables, {}, demo.provenance)
    text = visible_text(out)
    assert "No sensitivity analyses were run." in text
    assert "No harms data were given" in text
    assert "No model diagnostics figure was supplied." in text
    assert not re.search(r"(?<![\w-])(nan|None|inf)(?![\w-])", text)


# ---- agreement of the sensitivity analyses --------------------------------------------------
def _agreement_case(primary, rows, analysis_names=None):
    config = {"outcomes": [{"name": "Y", "primary": True}], "visits": {"baseline": "b", "order": ["b", "v"],
                                                                       "key": ["v"]},
              "arms": {"reference": "r", "treatment": "t"}, "analysis": {"alpha": 0.05}}
    contrasts = pd.DataFrame([{"outcome": "Y", "model": "mmrm", "visit": "v", "estimate": primary[0],
                               "ci_lower": primary[1], "ci_upper": primary[2], "p_value": primary[3]}])
    sens = pd.DataFrame([{"outcome": "Y", "model": "m", "visit": "v", "estimate": e, "ci_lower": lo,
                          "ci_upper": hi, "p_value": p, "analysis": name}
                         for name, (e, lo, hi, p) in zip(analysis_names or [f"a{i}" for i in range(len(rows))], rows)])
    return sensitivity_agreement(config, contrasts, sens)


def test_agreement_means_same_direction_and_same_ci_conclusion():
    out = _agreement_case((-10.0, -18.0, -2.0, 0.01), [
        (-12.0, -20.0, -4.0, 0.003),   # same sign, CI excludes 0 like the primary -> agrees
        (-6.0, -14.0, 2.0, 0.12),      # same sign but CI now includes 0 -> differs
        (3.0, -5.0, 11.0, 0.4),        # opposite sign -> differs
        (-9.0, np.nan, np.nan, 0.02),  # no interval -> cannot be judged
        (5.0, 1.0, 9.0, 0.01),         # opposite sign, excludes 0 -> differs
    ])
    assert out["agrees"].tolist() == [True, False, False, pd.NA, False]
    assert out["same_direction"].tolist() == [True, True, False, True, False]
    assert out["basis"].unique().tolist() == ["ci"]


def test_agreement_when_the_primary_interval_includes_zero():
    out = _agreement_case((-5.0, -12.0, 2.0, 0.15), [
        (-4.0, -11.0, 3.0, 0.2),     # includes 0 too -> agrees
        (-9.0, -15.0, -3.0, 0.004),  # now excludes 0 -> differs
    ])
    assert out["agrees"].tolist() == [True, False]


def test_agreement_of_a_p_value_only_analysis_uses_p_below_alpha():
    for p_value, agrees in ((0.02, True), (0.07, False)):
        out = _agreement_case((-10.0, -18.0, -2.0, 0.01), [(-10.0, -18.0, -2.0, p_value)],
                              analysis_names=["randomization_test"])
        assert out["basis"].tolist() == ["p"]
        assert out["agrees"].tolist() == [agrees]


def test_the_report_shows_one_sensitivity_table_with_the_agreement_column(demo):
    agreement = sensitivity_agreement(demo.config, demo.tables["contrasts"], demo.tables["sensitivity"],
                                      demo.tables["multiple_imputation"])
    section = demo.html.split('<section id="sensitivity"')[1].split("</section>")[0]
    assert section.count("<table") == 1
    assert "same direction" in section and "excludes 0" in section  # the definition is stated
    assert section.count(">DIFFERS<") == int((agreement["agrees"] == False).sum())  # noqa: E712
    assert section.count(">agrees<") == int((agreement["agrees"] == True).sum())  # noqa: E712
    # one row group per efficacy outcome x key visit, each headed by the primary estimate
    efficacy = [o["name"] for o in demo.config["outcomes"] if o.get("role", "efficacy") != "mechanism"]
    assert section.count('scope="rowgroup"') == len(efficacy) * len(demo.config["visits"]["key"])
    row = mmrm(demo, "PCL-5", "30d")
    assert f"{ours(row.estimate)} ({ours(row.ci_lower)} to {ours(row.ci_upper)})" in section


# ---- accessibility and self-containment -------------------------------------------------------
def test_every_figure_is_embedded_with_alt_text(demo):
    images = re.findall(r"<img\b[^>]*>", demo.html)
    assert len(images) == len(demo.figures) >= 10
    for number, tag in enumerate(images, start=1):
        assert 'src="data:image/png;base64,' in tag
        alt = re.search(r'alt="([^"]+)"', tag).group(1)
        assert alt.startswith(f"Figure {number}: ") and len(alt) > 25
    for section in ("flow", "outcomes", "responders", "missing-data", "diagnostics"):
        part = demo.html.split(f'<section id="{section}"')[1].split("</section>")[0]
        assert "<img" in part, section


def test_tables_have_captions_and_scoped_headers(demo):
    tables = re.findall(r"<table\b.*?</table>", demo.html, flags=re.S)
    assert len(tables) >= 20
    for table in tables:
        assert re.search(r"<caption>.+?</caption>", table, flags=re.S)
        assert all("scope=" in th for th in re.findall(r"<th\b[^>]*>", table))


def test_no_network_resources(demo):
    assert "http://" not in demo.html and "https://" not in demo.html
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", demo.html)
    assert "<link" not in demo.html and "<script" not in demo.html
    assert "@import" not in demo.html and "url(" not in demo.html


def test_provenance_names_inputs_versions_and_how_to_reproduce(demo):
    section = demo.html.split('<section id="checksums"')[1].split("</section>")[0]
    for item in demo.provenance["inputs"]:
        assert item["path"] in section and item["sha256"] in section
    assert len(demo.provenance["inputs"]) == 4  # trial data, adverse events, dissociation, screening log
    reproduce = demo.html.split('<section id="reproduce"')[1].split("</section>")[0]
    assert "snakemake --cores all --configfile config/config.yaml" in reproduce
    assert "make verify" in reproduce and demo.provenance["git_commit"] in reproduce
    assert "MANIFEST.sha256" in reproduce
    software = demo.html.split('<section id="software"')[1].split("</section>")[0]
    assert "weasyprint" in software and "snakemake" in software


# ---- determinism -----------------------------------------------------------------------------
def test_html_is_deterministic(demo):
    again = render_report(demo.config, {k: v.copy() for k, v in demo.tables.items()}, dict(demo.figures),
                          dict(demo.provenance))
    assert again == demo.html


def test_pdf_bytes_are_identical_across_runs_and_carry_no_timestamp(demo, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    source = tmp_path / "report.html"
    source.write_text(demo.html, encoding="utf-8")
    first = pdf.write_pdf(source, tmp_path / "a.pdf").read_bytes()
    second = pdf.write_pdf(source, tmp_path / "b.pdf").read_bytes()
    assert first.startswith(b"%PDF-") and len(first) > 100_000
    assert first == second
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    dated = pdf.render_pdf(demo.html)
    assert dated != first and dated == pdf.render_pdf(demo.html)
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        plain = subprocess.run([pdfinfo, str(tmp_path / "a.pdf")], capture_output=True, text=True).stdout
        assert "CreationDate" not in plain and "ModDate" not in plain
        (tmp_path / "dated.pdf").write_bytes(dated)
        info = subprocess.run([pdfinfo, str(tmp_path / "dated.pdf")], capture_output=True, text=True).stdout
        assert re.search(r"CreationDate:\s+Tue Nov 14 22:13:20 2023 UTC", info)


def test_pdf_refuses_network_resources(tmp_path):
    page = tmp_path / "remote.html"
    page.write_text('<!DOCTYPE html><html><body><img src="https://example.invalid/x.png" alt="x"></body></html>')
    with pytest.raises(ValueError, match="self-contained"):
        pdf.write_pdf(page, tmp_path / "remote.pdf")
    assert not (tmp_path / "remote.pdf").exists()


def test_planning_section_reports_the_sample_sizes_of_the_power_table():
    """'Planning the definitive trial' states the simulated n per arm for each target effect."""
    import pandas as pd
    import yaml

    from pilottrial.report.sections import build_document

    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    from pilottrial.config.load import validate_config

    config = validate_config(config, base_dir=REPO_ROOT / "config")
    sizes = pd.DataFrame({
        "effect_source": ["mcid"] * 4, "effect": [-10.0] * 4, "target_power": [0.8, 0.8, 0.9, 0.9],
        "method": ["simulation", "analytic_mmrm", "simulation", "analytic_mmrm"], "n_per_arm": [40, 32, 50, 42],
        "power": [0.863, 0.81, 0.932, 0.90], "mc_lower": [0.84, None, 0.91, None],
        "mc_upper": [0.88, None, 0.95, None], "reached": ["yes"] * 4,
    })
    document = build_document(config, {"sample_size": sizes}, {}, {}, [])
    planning = next(s for s in document["sections"] if s["id"] == "planning")
    text = str(planning["blocks"])
    assert "about 40 participants per arm by simulation (32 by the MMRM approximation)" in text
    without = build_document(config, {}, {}, {}, [])
    assert all(s["id"] != "planning" for s in without["sections"])
