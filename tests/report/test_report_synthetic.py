"""Tests for pilottrial.report.figures.outcomes and pilottrial.report.document on small synthetic tables."""

from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")  # the library leaves the backend to its caller

import numpy as np
import pandas as pd
import pytest

from pilottrial.report import document as report
from pilottrial.report.document import fmt_ci, fmt_num, fmt_p
from pilottrial.report.figures import outcomes as figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VISITS = ["baseline", "24h", "7d", "30d"]


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
@pytest.fixture
def config() -> dict:
    return {
        "trial": {"name": "synthetic-pilot", "design": "parallel", "title": "Synthetic pilot (test)"},
        "data": {"path": "data/synthetic.csv", "layout": "long"},
        "columns": {"participant": "participant", "arm": "arm", "visit": "visit"},
        "arms": {"reference": "placebo", "treatment": "drug"},
        "visits": {"baseline": "baseline", "order": list(VISITS), "key": ["24h", "30d"]},
        "outcomes": [
            # secondary listed first on purpose: the report must put the primary first
            {"name": "QOL", "column": "qol", "range": [0, 100], "better": "higher"},
            {"name": "SYM", "column": "sym", "range": [0, 80], "better": "lower", "primary": True},
        ],
        "analysis": {"alpha": 0.05, "df_method": "satterthwaite"},
    }


@pytest.fixture
def analysis() -> pd.DataFrame:
    rng = np.random.default_rng(20240501)
    rows = []
    for arm, n, drift in (("placebo", 6, -2.0), ("drug", 7, -6.0)):
        for i in range(n):
            pid = f"{arm[0].upper()}{i:02d}"
            for outcome, base_mu, sign in (("SYM", 50.0, 1.0), ("QOL", 40.0, -1.0)):
                base = float(np.clip(base_mu + rng.normal(0, 6), 0, 80))
                for k, visit in enumerate(VISITS):
                    score = base if k == 0 else base + sign * drift * k + rng.normal(0, 4)
                    score = float(np.clip(score, 0, 80))
                    rows.append(
                        {
                            "participant": pid,
                            "arm": arm,
                            "visit": visit,
                            "outcome": outcome,
                            "baseline": base,
                            "score": score,
                            "change": 0.0 if k == 0 else score - base,
                        }
                    )
    df = pd.DataFrame(rows)
    # a missed visit and a participant with a single post-baseline visit
    miss = (df["participant"] == "D03") & (df["visit"] == "7d")
    df.loc[miss, ["score", "change"]] = np.nan
    return df


@pytest.fixture
def contrasts() -> pd.DataFrame:
    rows = [
        # outcome, model, visit, estimate, se, df, lo, hi, p
        ("SYM", "mmrm", "24h", -8.104, 2.37, 23.41, -13.012, -3.196, 0.0021),
        ("SYM", "mmrm", "7d", -5.5, 2.5, 22.0, -10.68, -0.32, 0.038),
        ("SYM", "mmrm", "30d", 1.5, 2.8, 21.7, -4.31, 7.31, 0.598),
        ("SYM", "lmm", "24h", -7.9, 2.4, 30.1, -12.8, -3.0, 0.0025),
        ("SYM", "lmm", "7d", -5.2, 2.4, 30.1, -10.1, -0.3, 0.04),
        ("SYM", "lmm", "30d", 1.1, 2.4, 30.1, -3.8, 6.0, 0.65),
        ("QOL", "mmrm", "24h", 3.2, 1.1, 20.2, 0.92, 5.48, 0.0004),
        ("QOL", "mmrm", "7d", 2.0, 1.3, float("nan"), -0.7, 4.7, float("nan")),
        ("QOL", "mmrm", "30d", -2.25, 1.6, float("nan"), -5.6, 1.1, float("nan")),
        ("QOL", "lmm", "24h", 3.0, 1.2, 28.0, 0.5, 5.5, 0.02),
        ("QOL", "lmm", "7d", 1.8, 1.2, 28.0, -0.7, 4.3, 0.15),
        ("QOL", "lmm", "30d", float("inf"), None, None, None, None, None),
    ]
    cols = ["outcome", "model", "visit", "estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"]
    return pd.DataFrame(rows, columns=cols)


@pytest.fixture
def descriptives(analysis: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (outcome, arm, visit), g in analysis.groupby(["outcome", "arm", "visit"], sort=True):
        s = g["score"].dropna()
        c = g["change"].dropna()
        is_base = visit == "baseline"
        rows.append(
            {
                "outcome": outcome, "arm": arm, "visit": visit,
                "n": len(s), "mean": s.mean(), "sd": s.std(), "median": s.median(),
                "q1": s.quantile(0.25), "q3": s.quantile(0.75),
                "n_missing": int(g["score"].isna().sum()),
                "change_mean": np.nan if is_base else c.mean(),
                "change_sd": np.nan if is_base else c.std(),
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def provenance() -> dict:
    return {
        "config_yaml": "trial:\n  name: synthetic-pilot\nanalysis:\n  alpha: 0.05\n",
        "data_sha256": "ab" * 32,
        "data_path": "data/synthetic.csv",
        "packages": {"pandas": "3.1.1", "numpy": "2.4.6", "matplotlib": "3.11.2"},
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "command": "snakemake --cores 1 --configfile config/config.yaml",
    }


@pytest.fixture
def figure_paths(tmp_path, analysis, config) -> dict:
    a = tmp_path / "fig" / "sym_mean_change.png"
    b = tmp_path / "fig" / "sym_trajectories.png"
    figures.plot_mean_change(analysis, "SYM", config, a)
    figures.plot_trajectories(analysis, "SYM", config, b)
    return {
        "SYM: mean change from baseline by arm (95% CI)": a,
        "SYM: individual participant trajectories": str(b),
    }


@pytest.fixture
def html(config, contrasts, descriptives, figure_paths, provenance) -> str:
    return report.render_report(config, {"contrasts": contrasts, "descriptives": descriptives}, figure_paths,
                                provenance)


def _visible(html: str) -> str:
    """The document with embedded image payloads and the style sheet (CSS keywords such as
    ``none`` are not shown text) removed."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,", html)


# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------
@pytest.mark.parametrize("plot", [figures.plot_mean_change, figures.plot_trajectories])
@pytest.mark.parametrize("outcome", ["SYM", "QOL"])
def test_png_written_valid_and_reproducible(tmp_path, analysis, config, plot, outcome):
    p1, p2 = tmp_path / "run1" / "f.png", tmp_path / "run2" / "f.png"
    plot(analysis, outcome, config, p1)
    plot(analysis, outcome, config, p2)
    b1, b2 = p1.read_bytes(), p2.read_bytes()
    assert b1.startswith(PNG_MAGIC)
    assert len(b1) > 5000
    assert b1 == b2
    assert b"matplotlib" not in b1.lower()  # no Software/version metadata


def test_figures_do_not_leak_global_state(tmp_path, analysis, config):
    import matplotlib
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    n_figs = len(plt.get_fignums())
    figures.plot_mean_change(analysis, "SYM", config, tmp_path / "a.png")
    figures.plot_trajectories(analysis, "SYM", config, tmp_path / "b.png")
    assert len(plt.get_fignums()) == n_figs
    after = dict(matplotlib.rcParams)
    changed = {k for k in before if str(before[k]) != str(after[k])}
    assert not changed
    assert matplotlib.get_backend().lower() == "agg"


def test_plot_order_independent(tmp_path, analysis, config):
    """Row order of the input must not change the picture."""
    shuffled = analysis.sample(frac=1.0, random_state=1).reset_index(drop=True)
    for plot in (figures.plot_mean_change, figures.plot_trajectories):
        plot(analysis, "SYM", config, tmp_path / "a.png")
        plot(shuffled, "SYM", config, tmp_path / "b.png")
        assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_mean_ci_matches_t_interval():
    from scipy import stats

    x = np.array([-3.0, -8.0, -1.0, -6.5, -4.0])
    mean, lo, hi, n = figures.mean_ci(x, 0.95)
    half = stats.t.ppf(0.975, 4) * x.std(ddof=1) / math.sqrt(5)
    assert n == 5
    assert mean == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx((x.mean() - half, x.mean() + half))
    # n = 1 and n = 0 give no interval and no warning
    assert all(math.isnan(v) for v in figures.mean_ci(np.array([2.0]), 0.95)[1:3])
    assert figures.mean_ci(np.array([]), 0.95)[3] == 0


def test_unknown_outcome_raises(tmp_path, analysis, config):
    with pytest.raises(ValueError):
        figures.plot_mean_change(analysis, "nope", config, tmp_path / "x.png")


# --------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------
def test_formatting_helpers():
    assert fmt_num(-8.104) == "−8.10"
    assert fmt_num(8.104) == "8.10"
    assert fmt_num(-0.001) == "0.00"
    assert fmt_num(23.41, 1) == "23.4"
    for bad in (None, float("nan"), float("inf"), -float("inf"), pd.NA, "x"):
        assert fmt_num(bad) == "—"
        assert fmt_p(bad, prefix=False) == "—"
    assert fmt_p(0.0021) == "p = 0.002"
    assert fmt_p(0.0004) == "p < 0.001"
    assert fmt_p(0.0004, prefix=False) == "< 0.001"
    assert fmt_ci(-13.012, -3.196) == "−13.01 to −3.20"


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def test_report_contains_key_mmrm_estimates_and_cis(html, contrasts, config):
    mmrm = contrasts[(contrasts["model"] == "mmrm") & contrasts["visit"].isin(config["visits"]["key"])]
    assert len(mmrm) == 4
    key_section = html.split('id="outcomes"')[1].split('id="effect-sizes"')[0]
    for _, r in mmrm.iterrows():
        assert fmt_num(r["estimate"]) in key_section
        assert fmt_ci(r["ci_lower"], r["ci_upper"]) in key_section
        assert fmt_num(r["ci_lower"]) in html and fmt_num(r["ci_upper"]) in html
    assert (
        "At 24 hours, SYM improved by 8.10 more points with drug than with placebo "
        "(difference in mean change −8.10 points; 95% CI −13.01 to −3.20; "
        "Satterthwaite df 23.4; p = 0.002)." in html
    )


def test_report_improved_worsened_follows_better(html):
    # SYM: lower is better
    assert "At 24 hours, SYM improved by 8.10 more points" in html  # estimate < 0
    assert "At 30 days, SYM worsened by 1.50 more points" in html  # estimate > 0
    # QOL: higher is better
    assert "At 24 hours, QOL improved by 3.20 more points" in html  # estimate > 0
    assert "At 30 days, QOL worsened by 2.25 more points" in html  # estimate < 0


def test_key_results_primary_first_and_section_order(html):
    key = html.split('id="outcomes"')[1]
    assert key.index("SYM (primary outcome)") < key.index("QOL")
    positions = [
        html.index(s)
        for s in (
            "<h1>",
            'id="summary"',
            'id="methods"',
            'id="outcomes"',
            'id="all-contrasts"',
            'id="software"',
            'id="reproduce"',
        )
    ]
    assert positions == sorted(positions)


def test_report_no_nan_none_inf(html):
    text = _visible(html)
    for word in ("nan", "none", "inf", "infinity", "null"):
        assert not re.search(rf"\b{word}\b", text, flags=re.IGNORECASE), word
    # NaN df / p in the input render as dashes
    assert "Satterthwaite df —; p = —" in text


def test_report_figures_embedded_with_alt(html, figure_paths):
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == len(figure_paths)
    for tag, caption in zip(imgs, figure_paths):
        assert 'src="data:image/png;base64,' in tag
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and len(alt.group(1)) > 10
        assert caption.split(":")[0] in alt.group(1)
    assert html.index("mean change from baseline by arm") < html.index("individual participant trajectories")


def test_report_self_contained(html):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.I)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html
    assert "@import" not in html and "url(" not in html


def test_report_tables_and_provenance(html, provenance):
    assert html.count("<table") >= 4
    assert '<th scope="col" class="num">95% CI</th>' in html
    assert "LMM (random intercept)" in html
    assert provenance["data_sha256"] in html
    assert provenance["git_commit"] in html
    assert provenance["command"] in html
    assert "name: synthetic-pilot" in html
    for name, version in provenance["packages"].items():
        assert re.search(rf'<th scope="row"[^>]*>{name}</th><td[^>]*>{version}</td>', html)
    # n randomized at baseline: 6 placebo, 7 drug, 13 in total
    assert re.search(r'<th scope="row"[^>]*>Randomized</th><td[^>]*>6</td><td[^>]*>7</td><td[^>]*>13</td>', html)
    assert "13 participants randomized (7 drug, 6 placebo)" in html
    assert "Satterthwaite" in html and "unstructured" in html and "REML" in html


def test_report_kenward_roger_wording(config, contrasts, descriptives, provenance):
    config["analysis"]["df_method"] = "kenward-roger"
    out = report.render_report(config, {"contrasts": contrasts, "descriptives": descriptives}, {}, provenance)
    assert "Kenward-Roger df 23.4" in out
    assert "Satterthwaite" not in out


def test_report_escapes_html(config, contrasts, descriptives, provenance):
    config["trial"]["title"] = "A <b>bold</b> & trial"
    out = report.render_report(config, {"contrasts": contrasts, "descriptives": descriptives}, {}, provenance)
    assert "<b>bold</b>" not in out
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; trial" in out


def test_report_deterministic_and_written(tmp_path, config, contrasts, descriptives, figure_paths, provenance, html):
    again = report.render_report(config, {"contrasts": contrasts, "descriptives": descriptives}, figure_paths,
                                 provenance)
    assert again == html
    out = tmp_path / "out" / "report.html"
    report.write_report(out, html)
    raw = out.read_bytes()
    assert b"\r\n" not in raw
    assert raw.decode("utf-8") == html
    assert raw.startswith(b"<!DOCTYPE html>")
