"""The figures of any valid trial (issue 14, item 7): no title or label runs beyond the figure, tick
labels and the forest plot's column headers never run together, and figures of many participants
aggregate (missing-data pattern) or sample (trajectories) instead of drawing an unreadable row or
line per participant. Figures that cannot be drawn say why instead of stopping the run.

Every figure drawn here is kept open (``plt.close`` is intercepted) and checked with
:func:`pilottrial.report.figures.layout.texts_outside`: the window extent of every drawn text
against the figure's bounding box."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # the library leaves the backend to its caller

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import FancyBboxPatch, Rectangle
from report_trials import make_trial

import pilottrial.report.figures as rf
from pilottrial.errors import InputError
from pilottrial.report.figures.layout import draw_or_placeholder, fit_xticks, texts_outside
from pilottrial.report.figures.limits import MISSING_PATTERN_PATTERNS, MISSING_PATTERN_ROWS, TRAJECTORY_LINES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SHAPES = {
    "10 participants, 1 visit": dict(n_per_arm=5, visits=1, outcomes=1),
    "12 visits, 6 outcomes": dict(n_per_arm=6, visits=12, outcomes=6, key=[f"week {i}" for i in range(1, 13)]),
    "arm codes 0/1, study days": dict(n_per_arm=30, visits=3, outcomes=2, arms=("0", "1"), numeric_visits=True),
    "1,000 participants": dict(n_per_arm=500, visits=4, outcomes=2),
    "long labels": dict(n_per_arm=10, visits=["baseline visit before randomisation", "week 12 (end of treatment)",
                                              "month 6 follow-up"],
                        outcomes=["Hamilton Depression Rating Scale, 17 items", "Clinical Global Impression"],
                        arms=("treatment as usual with waiting list",
                              "internet-delivered cognitive behavioural therapy")),
    "not estimable": dict(n_per_arm=20, visits=3, outcomes=3, not_estimable=("all",)),
    "dollar signs": dict(n_per_arm=10, visits=2, outcomes=["Spend ($ per week, $ saved)"],
                         arms=("$0 voucher", "$100 voucher")),
}


@pytest.fixture
def kept(monkeypatch):
    """The figures written while the test runs, kept open for inspection (closed afterwards)."""
    figures = []
    close = plt.close

    def keep(fig=None):
        if isinstance(fig, plt.Figure):
            figures.append(fig)
        else:
            close(fig)

    monkeypatch.setattr(plt, "close", keep)
    yield figures
    for fig in figures:
        close(fig)


def _draw(kind: str, trial, path):
    config, analysis, tables = trial.config, trial.analysis, trial.tables
    primary = config["outcomes"][0]["name"]
    return {
        "consort": lambda: rf.plot_consort(analysis, config, None, path),
        "mean_score": lambda: rf.plot_mean_score(analysis, primary, config, path),
        "mean_change": lambda: rf.plot_mean_change(analysis, primary, config, path),
        "trajectories": lambda: rf.plot_trajectories(analysis, primary, config, path),
        "missing_pattern": lambda: rf.plot_missing_pattern(analysis, config, path),
        "waterfall": lambda: rf.plot_waterfall(analysis, primary, config, path),
        "forest": lambda: rf.plot_forest(tables["contrasts"], config, path, multiplicity=tables["multiplicity"],
                                         effect_sizes=tables["effect_sizes"]),
        "responders": lambda: rf.plot_responders(tables["responders"], config, path),
        "tipping": lambda: rf.plot_tipping(tables["tipping_point"], config, path),
    }[kind]()


KINDS = ["consort", "mean_score", "mean_change", "trajectories", "missing_pattern", "waterfall", "forest",
         "responders", "tipping"]


@pytest.fixture(scope="module", params=list(SHAPES), ids=list(SHAPES))
def trial(request):
    return make_trial(**SHAPES[request.param])


@pytest.mark.parametrize("kind", KINDS)
def test_no_text_runs_beyond_the_figure(tmp_path, kept, trial, kind):
    _draw(kind, trial, tmp_path / f"{kind}.png")
    assert (tmp_path / f"{kind}.png").read_bytes()[:8] == PNG_MAGIC
    assert kept
    for fig in kept:
        assert texts_outside(fig) == []


def _tick_labels_overlap(fig, ax) -> bool:
    """Do neighbouring x tick labels touch? Horizontal labels: their boxes. Rotated labels (parallel
    lines of text): the distance between neighbouring lines, across the text, against its height."""
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    angle = np.radians(labels[0].get_rotation())
    if angle == 0:
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        return any(a.x1 > b.x0 for a, b in zip(boxes, boxes[1:]))
    anchors = sorted(ax.transData.transform([(t.get_position()[0], 0) for t in labels])[:, 0])
    height = labels[0].get_fontsize() * fig.dpi / 72.0
    return min(b - a for a, b in zip(anchors, anchors[1:])) * np.sin(angle) < height


def test_twelve_long_visit_labels_do_not_overlap(tmp_path, kept):
    visits = ["baseline"] + [f"follow-up week {i}" for i in range(1, 13)]
    trial = make_trial(n_per_arm=8, visits=visits, outcomes=1)
    for kind in ("mean_score", "mean_change", "trajectories"):
        kept.clear()
        _draw(kind, trial, tmp_path / f"{kind}.png")
        fig = kept[0]
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            labels = [t for t in ax.get_xticklabels() if t.get_text()]
            assert len(labels) >= 7, kind  # thinned at most to every other label
            assert not _tick_labels_overlap(fig, ax), kind
        if kind == "mean_score":  # the rows of n sit below the (rotated) tick labels
            ax = fig.axes[0]
            lowest = min(t.get_window_extent(renderer).y0 for t in ax.get_xticklabels() if t.get_text())
            counts = [t for t in ax.texts if t.get_text().isdigit()]
            assert counts and max(t.get_window_extent(renderer).y1 for t in counts) <= lowest + 1


def test_short_tick_labels_are_left_alone():
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.set_xticks(range(4), labels=["baseline", "24h", "7d", "30d"])
    fig.tight_layout()
    assert not fit_xticks(ax)
    assert all(t.get_rotation() == 0 for t in ax.get_xticklabels())
    plt.close(fig)


@pytest.mark.parametrize("shape", ["10 participants, 1 visit", "12 visits, 6 outcomes", "long labels",
                                   "not estimable"])
def test_forest_headers_and_columns_never_run_together(tmp_path, kept, shape):
    trial = make_trial(**SHAPES[shape])
    drawn = _draw("forest", trial, tmp_path / "forest.png")
    fig = kept[0]
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        texts = [t for t in ax.texts if t.get_text()]
        header = [t for t in texts if t.get_text().startswith("Difference (")]
        if not header:
            continue
        p_header = [t for t in texts if t.get_text() == "p"]
        gap = 0.05 * fig.dpi  # at least a space between the columns
        p_start = p_header[0].get_window_extent(renderer).x0
        assert header[0].get_window_extent(renderer).x1 + gap <= p_start
        # every difference ends before the p column starts
        differences = [t for t in texts if t.get_text()[:1] in "−0123456789" or t.get_text() == "not estimable"]
        differences = [t for t in differences if t.get_window_extent(renderer).x0 < p_start]
        assert differences and max(t.get_window_extent(renderer).x1 for t in differences) + gap <= p_start
    if shape == "not estimable":
        assert (drawn["note"] != "").any()


def test_tipping_point_with_one_outcome_keeps_its_title(tmp_path, kept):
    trial = make_trial(n_per_arm=15, visits=2, outcomes=1)
    rf.plot_tipping(trial.tables["tipping_point"], trial.config, tmp_path / "tipping.png")
    fig = kept[0]
    assert fig._suptitle.get_text().replace("\n", " ").startswith("Tipping-point analysis")
    assert texts_outside(fig) == []


def test_missing_pattern_aggregates_identical_patterns_above_the_limit(tmp_path, kept):
    small = make_trial(n_per_arm=MISSING_PATTERN_ROWS // 2, visits=3, outcomes=1)
    drawn = rf.plot_missing_pattern(small.analysis, small.config, tmp_path / "small.png")
    assert len(drawn) == MISSING_PATTERN_ROWS and "participant" in drawn  # one row per participant
    large = make_trial(n_per_arm=150, visits=4, outcomes=1, dropout=0.4)
    drawn = rf.plot_missing_pattern(large.analysis, large.config, tmp_path / "large.png")
    assert "participants" in drawn and drawn["participants"].sum() == 300
    assert len(drawn) < 2 * MISSING_PATTERN_PATTERNS
    # each row is a pattern of the data, with its count
    observed = large.analysis.assign(ok=large.analysis["score"].notna()).pivot_table(
        index=["participant", "arm"], columns="visit", values="ok").reset_index()
    visits = large.config["visits"]["order"]
    for _, row in drawn.iterrows():
        pattern = [bool(row[v]) for v in visits]
        same = observed[(observed["arm"] == row["arm"]) & (observed[visits].astype(bool) == pattern).all(axis=1)]
        assert len(same) == row["participants"]
    title = kept[-1]._suptitle.get_text()
    assert "same pattern" in title.replace("\n", " ")
    assert texts_outside(kept[-1]) == []


def test_missing_pattern_combines_rare_patterns_when_there_are_many(tmp_path, kept):
    rng = np.random.default_rng(7)
    trial = make_trial(n_per_arm=300, visits=10, outcomes=1, dropout=0.0)
    analysis = trial.analysis.copy()
    post = analysis["visit"] != "baseline"
    analysis.loc[post & (rng.random(len(analysis)) < 0.3), "score"] = np.nan  # intermittent: many patterns
    drawn = rf.plot_missing_pattern(analysis, trial.config, tmp_path / "many.png")
    for _, rows in drawn.groupby("arm"):
        assert len(rows) == MISSING_PATTERN_PATTERNS
        assert rows["participants"].sum() == 300
        assert (rows["pattern"] == "other").sum() == 1
    assert texts_outside(kept[-1]) == []


def test_trajectories_of_a_large_trial_draw_a_seeded_sample(tmp_path, kept):
    trial = make_trial(n_per_arm=500, visits=3, outcomes=1)
    rf.plot_trajectories(trial.analysis, "Outcome 1", trial.config, tmp_path / "a.png")
    rf.plot_trajectories(trial.analysis, "Outcome 1", trial.config, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    fig = kept[0]
    for ax in fig.axes:
        assert len(ax.lines) == TRAJECTORY_LINES + 1  # the sample and the arm mean
        assert f"random sample of {TRAJECTORY_LINES}" in ax.get_title()


def test_waterfall_of_a_large_trial_draws_bars_without_edges(tmp_path, kept):
    trial = make_trial(n_per_arm=600, visits=2, outcomes=1)
    drawn = rf.plot_waterfall(trial.analysis, "Outcome 1", trial.config, tmp_path / "w.png")
    ax = kept[0].axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(drawn) > 1000
    assert all(b.get_linewidth() == 0 for b in bars)
    assert texts_outside(kept[0]) == []


def test_consort_keeps_long_reasons_and_names_inside_their_boxes(tmp_path, kept):
    trial = make_trial(n_per_arm=10, **{k: v for k, v in SHAPES["long labels"].items() if k != "n_per_arm"})
    screening = pd.DataFrame({
        "eligible": ["no"] * 6 + ["yes"] * 24, "randomized": ["no"] * 10 + ["yes"] * 20,
        "reason": ["a very long exclusion reason that says in detail why this person could not take part at all"] * 3
                  + ["withdrew consent before randomisation because of the travel distance to the clinic"] * 7
                  + [""] * 20})
    rf.plot_consort(trial.analysis, trial.config, screening, tmp_path / "consort.png")
    fig = kept[0]
    assert texts_outside(fig) == []
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, FancyBboxPatch)]
    for text in ax.texts:
        if not text.get_text().strip() or text.get_rotation():
            continue
        extent = text.get_window_extent(renderer)
        centre = ((extent.x0 + extent.x1) / 2, (extent.y0 + extent.y1) / 2)
        holder = [b for b in boxes if b.x0 <= centre[0] <= b.x1 and b.y0 <= centre[1] <= b.y1]
        assert holder, text.get_text()
        assert min(holder, key=lambda b: b.width).x1 >= extent.x1 - 1, text.get_text()


def test_consort_with_many_visits_has_one_follow_up_box_per_arm(tmp_path, kept):
    trial = make_trial(n_per_arm=6, visits=11, outcomes=1)
    rf.plot_consort(trial.analysis, trial.config, None, tmp_path / "consort.png")
    texts = [t.get_text() for t in kept[0].axes[0].texts if not t.get_rotation()]  # not the stage labels
    assert texts.count("Follow-up") == 2
    assert sum(t.startswith("week 11: assessed") for t in texts) == 2


# ---- nothing to draw, or a figure that cannot be drawn --------------------------------------------------------
def test_empty_tables_give_a_figure_that_says_so(tmp_path):
    trial = make_trial(n_per_arm=10, visits=2, outcomes=1)
    empty = trial.tables["tipping_point"].iloc[0:0]
    assert rf.plot_tipping(empty, trial.config, tmp_path / "t.png").empty
    assert rf.plot_forest(trial.tables["contrasts"].iloc[0:0], trial.config, tmp_path / "f.png").empty
    assert rf.plot_responders(trial.tables["responders"].iloc[0:0], trial.config, tmp_path / "r.png").empty
    for name in ("t", "f", "r"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
        assert (tmp_path / f"{name}.svg").is_file()


def test_waterfall_of_an_outcome_without_follow_up_says_so(tmp_path):
    trial = make_trial(n_per_arm=10, visits=2, outcomes=1)
    baseline_only = trial.analysis.assign(score=np.where(trial.analysis["visit"] == "baseline",
                                                         trial.analysis["score"], np.nan))
    drawn = rf.plot_waterfall(baseline_only, "Outcome 1", trial.config, tmp_path / "w.png")
    assert drawn.empty and (tmp_path / "w.png").read_bytes()[:8] == PNG_MAGIC


def test_draw_or_placeholder_writes_a_figure_for_a_model_failure_and_stops_on_input_errors(tmp_path, capsys):
    def failing():
        plt.figure()
        raise np.linalg.LinAlgError("Singular matrix")

    before = set(plt.get_fignums())
    assert draw_or_placeholder(failing, tmp_path / "x.png", "A figure") is False
    assert (tmp_path / "x.png").read_bytes()[:8] == PNG_MAGIC and (tmp_path / "x.svg").is_file()
    assert set(plt.get_fignums()) == before  # the half-drawn figure is closed
    assert "Singular matrix" in capsys.readouterr().err  # the traceback goes to the log

    def bad_input():
        raise InputError("arm 'x' is not in the config", file="data.csv")

    with pytest.raises(InputError):
        draw_or_placeholder(bad_input, tmp_path / "y.png", "A figure")


def test_dollar_signs_are_text_not_mathtext(tmp_path, kept):
    trial = make_trial(**SHAPES["dollar signs"])
    rf.plot_mean_score(trial.analysis, "Spend ($ per week, $ saved)", trial.config, tmp_path / "m.png")
    fig = kept[0]
    assert fig.axes[0].get_title().startswith("Spend ($ per week, $ saved)")
    assert not fig.axes[0].title._preprocess_math(fig.axes[0].get_title())[1]  # drawn as plain text
