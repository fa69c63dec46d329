"""The ``pilottrial`` command line: ``init``, ``check``, ``run``, ``verify``.

    pilottrial init trial_export.sav --out trial.yaml   # a commented first draft of the config
    pilottrial check trial.yaml                         # the pipeline's checks and a summary
    pilottrial run trial.yaml --cores 4                 # the workflow; prints the report's path
    pilottrial verify trial.yaml                        # rerun from scratch, compare every output

Exit codes: 0 success; 1 a problem with the input (one line ``error: <file>, <where>: <problem>
-- fix: <what to do>``, no traceback) or a failed run; 2 a usage error, or a verification that
could not be made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pilottrial.errors import InputError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pilottrial`` command."""
    from pilottrial import __version__

    parser = argparse.ArgumentParser(
        prog="pilottrial", description="From a randomized pilot trial's data file to validated statistics and a report.")
    parser.add_argument("--version", action="version", version=f"pilottrial {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{init,check,run,verify}")
    init = commands.add_parser("init", help="draft a commented config from a data file",
                               description="Read a data file (CSV, TSV, Excel, Parquet, SAS, SPSS, Stata; long, wide "
                                           "or ADaM), guess its columns, arms, visits and outcomes, and write a "
                                           "commented config; every guess is marked '# guessed:'.")
    init.add_argument("data", help="the trial's data file")
    init.add_argument("--out", default=None, help="config to write (default: trial.yaml beside the data file)")
    init.add_argument("--sheet", default=None, help="Excel sheet name (default: the first)")
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    check = commands.add_parser("check", help="check a config and its data; summarise the trial",
                                description="Run the pipeline's config and data checks, then summarise the trial.")
    check.add_argument("config", help="the trial config (YAML)")
    for name, text in (("run", "run the workflow for a trial and print the report's path"),
                       ("verify", "rerun a trial from scratch and compare every output with its manifest")):
        sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sub.add_argument("config", help="the trial config (YAML); results/ and logs/ go beside it")
        sub.add_argument("--cores", default="all", help="cores to use (default: all)")
        sub.add_argument("--snakefile", default=None, help="the workflow's Snakefile (default: this installation's)")
        if name == "verify":
            sub.add_argument("--keep", action="store_true", help="keep the temporary copy")
    return parser


def _init(args) -> int:
    from pilottrial.cli.draft import write_draft
    from pilottrial.cli.guess import guess_trial

    data = Path(args.data)
    out = Path(args.out) if args.out else data.parent / "trial.yaml"
    if out.exists() and not args.force:
        raise InputError("the config already exists", file=out, fix="choose another --out, or add --force")
    sheet = int(args.sheet) if args.sheet is not None and args.sheet.isdigit() else args.sheet
    guess = guess_trial(data, sheet=sheet)
    write_draft(guess, out)
    arms = f"{guess.reference!r} (reference) vs " + ", ".join(repr(arm) for arm in guess.treatments)
    what = (f"{guess.n_participants} participants, {guess.layout} layout, {arms}, "
            + (f"periods {guess.periods}" if guess.design == "crossover" else f"visits {guess.visits}")
            + f", outcomes {[o.name for o in guess.outcomes]}")
    print(f"wrote {out}: {what}")
    for item in guess.undecided:
        print(f"  to decide: {item}")
    if guess.identifiers:
        print(f"  identifiers: {guess.identifiers} would be refused; listed in data.drop_columns (better: remove them "
              f"from the export)")
    print(f"next: check the lines marked '# guessed:' in {out}, then: pilottrial check {out}")
    return 0


def _check(args) -> int:
    from pilottrial.cli.check import check_config, summary_lines

    config, table = check_config(args.config)
    print("\n".join(summary_lines(args.config, config, table)))
    return 0


def main(argv=None) -> int:
    """Run the ``pilottrial`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            return _init(args)
        if args.command == "check":
            return _check(args)
        from pilottrial.cli.run import run_trial, verify_trial

        if args.command == "run":
            return run_trial(args.config, cores=args.cores, snakefile=args.snakefile,
                             echo=lambda line: print(line, flush=True))
        return verify_trial(args.config, cores=args.cores, snakefile=args.snakefile, keep=args.keep,
                            echo=lambda line: print(line, flush=True))
    except InputError as error:
        sys.stderr.write(error.one_line() + "\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pilottrial: interrupted; `pilottrial run` again resumes (finished results are kept)\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
