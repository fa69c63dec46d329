"""Errors for people: every problem with a trial's input names the file, the row(s), the
column and the fix, and is shown as one line without a traceback."""

from __future__ import annotations

import sys

__all__ = ["InputError", "exit_with"]


class InputError(ValueError):
    """A problem with the trial's data or config that the user must fix.

    Parameters
    ----------
    problem : what is wrong, in plain words.
    file : the file at fault (data or config).
    rows : 1-based line numbers in the file (header = line 1), if the problem is in rows.
    unit : what ``rows`` count: ``line`` (text files), ``row`` (spreadsheets), ``record``.
    column : the column or config key at fault.
    fix : what to do about it.
    """

    def __init__(self, problem: str, *, file=None, rows=None, column=None, fix=None, unit="line"):
        self.problem = problem
        self.unit = unit
        self.file = None if file is None else str(file)
        self.rows = list(rows) if rows is not None else []
        self.column = column
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = f" and {len(self.rows) - 5} more" if len(self.rows) > 5 else ""
            where.append(f"{self.unit if len(self.rows) == 1 else self.unit + 's'} {shown}{more}")
        if self.column:
            where.append(f"column {self.column!r}")
        text = f"error: {': '.join(filter(None, [', '.join(where), self.problem]))}"
        if self.fix:
            text += f" -- fix: {self.fix}"
        return " ".join(text.split())


def exit_with(error: InputError, code: int = 1):
    """Print the error as one line on stderr and exit (no traceback)."""
    sys.stderr.write(error.one_line() + "\n")
    sys.stderr.flush()
    raise SystemExit(code)
