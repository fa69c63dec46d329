"""When a figure switches to its form for large trials (no matplotlib here: the report reads these).

A figure that draws one row or one line per participant stays readable up to a few dozen
participants; beyond these limits it aggregates or samples, and says so in its title (and the
report in the figure's caption).
"""

from __future__ import annotations

__all__ = ["MISSING_PATTERN_ROWS", "MISSING_PATTERN_PATTERNS", "TRAJECTORY_LINES", "TRAJECTORY_SEED",
           "WATERFALL_EDGES"]

#: The missing-data pattern draws one row per participant up to this many participants in the
#: trial; above, participants with the same pattern of observed and missing visits share a row
#: labelled with their count.
MISSING_PATTERN_ROWS = 60
#: At most this many pattern rows per arm (the most frequent); the rest are combined in one row.
MISSING_PATTERN_PATTERNS = 25
#: Individual trajectories: at most this many participants' lines per arm (a seeded random
#: sample above it); the arm means always use every participant.
TRAJECTORY_LINES = 100
#: Seed of the sample of trajectories (:class:`numpy.random.SeedSequence`): the same figure on every run.
TRAJECTORY_SEED = 20260514
#: Waterfall bars have white edges up to this many bars; above, edges would hide the bars.
WATERFALL_EDGES = 150
