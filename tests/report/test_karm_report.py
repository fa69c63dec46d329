"""The report and its figures for three or more arms (issue 12): k arms' artists in every figure,
one row of the forest plot per comparison, Table 1 with an SMD per comparison, sentences and table
rows for each comparison, every section written.

The k-arm result tables are fixtures (tests/report/karm_trials.py) in the shape of the output
contract; the two-arm figures and report are checked byte for byte against the previous commit by
hand (see the report of issue 12), not here."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest
from karm_trials import make_karm_trial
from test_report_any_trial import BAD_TEXT, visible_text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pilottrial.config.trial import Trial  # noqa: E402
from pilottrial.registry import report_figure_specs  # noqa: E402
from pilottrial.report.document import render_report  # noqa: E402
from pilottrial.report.figures import consort, forest, missing, outcomes, responders, waterfall  # noqa: E402
from pilottrial.report.figures.baseline_table import standardized_mean_difference  # noqa: E402
from pilottrial.report.figures.style import OKABE_ITO  # noqa: E402
from pilottrial.report.sections.build import SECTION_FAILED  # noqa: E402

LONG = ("ketamine 0.2 mg/kg by intravenous infusion", "ketamine 0.5 mg/kg by intravenous infusion",
        "esketamine 56 mg intranasal spray")


@pytest.fixture(scope="module")
def three():
    return make_karm_trial(treatments=("ketamine-0.2", "ketamine-0.5"), reference="midazolam", n_per_arm=12,
                           visits=3, outcomes=3, mechanism=1)


@pytest.fixture(scope="module")
def four_long():
    return make_karm_trial(treatments=LONG, reference="midazolam infusion (active placebo)", n_per_arm=12,
                           visits=2, outcomes=2)


@pytest.fixture(scope="module")
def three_html(three):
    return render_report(three.config, three.tables, {}, {})


def _capture(monkeypatch, module):
    """The figure a plotting function saves (kept open for inspection)."""
    seen = []
    monkeypatch.setattr(module, "save_figure", lambda fig, path, **kw: seen.append(fig))
    return seen


@pytest.mark.parametrize("name", ["three", "four_long"])
def test_mean_change_has_a_line_and_a_legend_entry_per_arm(request, monkeypatch, name):
    trial = request.getfixturevalue(name)
    arms = Trial.from_config(trial.config).arms
    seen = _capture(monkeypatch, outcomes)
    outcomes.plot_mean_change(trial.analysis, "Outcome 1", trial.config, "unused.png")
    ax = seen[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == len(arms)
    for arm, label in zip(arms, labels):
        assert label.replace("\n", " ").startswith(arm)
    colours = [matplotlib.colors.to_hex(line.get_color()).upper() for line in ax.get_lines()
               if line.get_marker() == "o"]
    assert colours == [c.upper() for c in OKABE_ITO[: len(arms)]]  # fixed by trial.arms order
    # three or more arms: the legend sits outside the axes, never over the means
    seen[0].canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0 + 1
    plt.close("all")


def test_trajectories_and_waterfall_show_every_arm(monkeypatch, four_long):
    arms = Trial.from_config(four_long.config).arms
    seen = _capture(monkeypatch, outcomes)
    outcomes.plot_trajectories(four_long.analysis, "Outcome 1", four_long.config, "unused.png")
    titles = [ax.get_title().replace("\n", " ") for ax in seen[0].axes]
    assert len(titles) == len(arms) == 4
    assert all(t.startswith(a) for t, a in zip(titles, arms))
    seen_w = _capture(monkeypatch, waterfall)
    waterfall.plot_waterfall(four_long.analysis, "Outcome 1", four_long.config, "unused.png")
    entries = [t.get_text() for t in seen_w[0].axes[0].get_legend().get_texts()]
    assert len(entries) == len(arms) + 1  # the arms and the responder threshold
    plt.close("all")


def test_consort_has_one_allocation_column_per_arm(tmp_path, four_long):
    counts = consort.plot_consort(four_long.analysis, four_long.config, None, tmp_path / "consort.png")
    arms = Trial.from_config(four_long.config).arms
    assert list(counts["arms"]) == list(arms)
    people = four_long.analysis.drop_duplicates("participant")
    for arm in arms:
        assert counts["arms"][arm]["allocated"] == int((people["arm"] == arm).sum())
    svg = (tmp_path / "consort.svg").read_text()
    assert svg.count("Allocated to") == 4
    assert (tmp_path / "consort.png").stat().st_size > 0


def test_forest_has_one_row_per_comparison_at_each_key_visit(tmp_path, three):
    trial = Trial.from_config(three.config)
    drawn = forest.plot_forest(three.tables["contrasts"], three.config, tmp_path / "forest.png",
                               multiplicity=three.tables["multiplicity"], effect_sizes=three.tables["effect_sizes"])
    efficacy = [o.name for o in trial.efficacy_outcomes]
    assert len(drawn) == len(efficacy) * len(trial.post_baseline) * len(trial.comparisons)
    assert set(drawn["treatment"]) == {c.name for c in trial.comparisons}
    c = three.tables["contrasts"]
    for r in drawn.itertuples():  # each row carries its comparison's numbers, adjusted interval included
        want = c[(c["outcome"] == r.outcome) & (c["model"] == "mmrm") & (c["visit"].astype(str) == r.visit)
                 & (c["treatment"] == r.treatment)].iloc[0]
        assert r.estimate == pytest.approx(want["estimate"])
        assert r.ci_lower_adjusted == pytest.approx(want["ci_lower_adjusted"])
    svg = (tmp_path / "forest.svg").read_text()
    assert "ketamine-0.2" in svg and "ketamine-0.5" in svg


def test_responders_and_tipping_point_by_arm(tmp_path, three):
    trial = Trial.from_config(three.config)
    drawn = responders.plot_responders(three.tables["responders"], three.config, tmp_path / "responders.png")
    assert list(dict.fromkeys(drawn["arm"])) == list(trial.arms)
    summary = missing.plot_tipping(three.tables["tipping_point"], three.config, tmp_path / "tipping.png")
    assert list(dict.fromkeys(summary["treatment"])) == [c.name for c in trial.comparisons]


def test_table_one_has_an_smd_per_comparison(three):
    trial = Trial.from_config(three.config)
    table = three.tables["table_one"]
    assert list(table.columns[-2:]) == [f"smd_{c.name}" for c in trial.comparisons]
    assert all(a in table.columns for a in trial.arms)
    people = three.raw.drop_duplicates("participant").set_index("participant")
    row = table[(table["variable"] == "age") & (table["statistic"] == "mean (SD)")].iloc[0]
    for c in trial.comparisons:  # Austin's SMD, written out
        t = people.loc[people["arm"] == c.treatment, "age"].to_numpy(dtype=float)
        r = people.loc[people["arm"] == c.reference, "age"].to_numpy(dtype=float)
        want = abs(t.mean() - r.mean()) / np.sqrt((t.var(ddof=1) + r.var(ddof=1)) / 2)
        assert row[f"smd_{c.name}"] == pytest.approx(want, rel=1e-12)
        assert want == pytest.approx(standardized_mean_difference(t, r), rel=1e-12)


def test_report_writes_every_section_and_names_each_comparison(three, three_html):
    text = visible_text(three_html)
    assert SECTION_FAILED not in text
    for pattern in BAD_TEXT:
        assert not re.search(pattern, text), pattern
    trial = Trial.from_config(three.config)
    for visit in trial.key_visits:
        for c in trial.comparisons:
            assert re.search(rf"At {visit}, Outcome 1 (improved|worsened) by [0-9.]+ more points with {c.treatment} "
                             rf"than with {c.reference} \(.*?\); Dunnett-adjusted 95% CI", text)
    # the differences table: a Comparison column with a row per comparison at every visit
    assert text.count("ketamine-0.2 vs midazolam") >= len(trial.post_baseline)
    assert text.count("ketamine-0.5 vs midazolam") >= len(trial.post_baseline)
    assert "Comparison" in text and "|SMD| ketamine-0.5 vs midazolam" in text
    assert "3-arm pilot trial" in text


def test_report_numbers_of_each_comparison(three, three_html):
    """The adjusted interval printed for a comparison is that comparison's (formatted as the report does)."""
    c = three.tables["contrasts"]
    text = visible_text(three_html)
    for name in ("ketamine-0.2", "ketamine-0.5"):
        row = c[(c["treatment"] == name) & (c["model"] == "mmrm") & (c["outcome"] == "Outcome 1")].iloc[0]
        lo, hi = (f"{x:.2f}".replace("-", "\u2212") for x in (row["ci_lower_adjusted"], row["ci_upper_adjusted"]))
        assert f"Dunnett-adjusted 95% CI {lo} to {hi}" in text


def test_all_pairs_and_four_arms_render(four_long):
    pairs = make_karm_trial(treatments=("low", "high"), comparisons="all_pairs", adjustment="holm", n_per_arm=8,
                            visits=2, outcomes=1)
    for trial in (pairs, four_long):
        text = visible_text(render_report(trial.config, trial.tables, {}, {}))
        assert SECTION_FAILED not in text
    assert "high vs low" in visible_text(render_report(pairs.config, pairs.tables, {}, {}))


def test_figure_captions_name_every_arm(three):
    specs = report_figure_specs(three.config, "results/x")
    assert "ketamine-0.2, ketamine-0.5 or midazolam" in specs["consort"]["caption"]
    assert "each treatment arm minus midazolam" in specs["forest"]["caption"]
