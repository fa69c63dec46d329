"""``pilottrial run`` and ``pilottrial verify``: the workflow for one trial, from its own folder.

A trial folder holds its config and data only. :func:`run_trial` runs the workflow of the
pilottrial installation this command belongs to (its ``Snakefile``, :func:`workflow_snakefile`)
with the trial folder as the working directory, so that ``results/`` and ``logs/`` are written
there::

    snakemake --snakefile <pilottrial>/Snakefile --cores N --configfile trial.yaml --rerun-incomplete

(run in the trial folder; a config inside the pilottrial repository runs from the repository, as
``make run`` does). Like ``make run`` it resumes after an interruption: a stale lock left by a
killed run is removed (:func:`pilottrial.provenance.resume.remove_stale_lock`) and incomplete
jobs rerun, finished results are kept. Progress is shown as one line per finished step; the full
Snakemake output is kept in ``logs/pilottrial-run.log``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pilottrial.errors import InputError

__all__ = ["workflow_snakefile", "run_plan", "run_trial", "verify_trial", "RUN_LOG"]

#: The full Snakemake output of the last ``pilottrial run``, relative to its working directory.
RUN_LOG = Path("logs") / "pilottrial-run.log"
#: Snakemake's progress line, and the line naming the rule of the job just finished.
_PROGRESS = re.compile(r"^(\d+) of (\d+) steps \((\d+%)\) done")
_FINISHED = re.compile(r"^Finished job(?:id)?:? \d+ \(Rule: (?P<rule>[^)]+)\)")


def workflow_snakefile(snakefile=None) -> Path:
    """The workflow's Snakefile: ``snakefile`` if given, else ``$PILOTTRIAL_SNAKEFILE``, else the
    ``Snakefile`` of the source tree this package is installed from (``pip install -e .``)."""
    candidate = snakefile or os.environ.get("PILOTTRIAL_SNAKEFILE") or Path(__file__).resolve().parents[3] / "Snakefile"
    path = Path(candidate).resolve()
    if not path.is_file():
        raise InputError("the pilottrial workflow (its Snakefile) was not found", file=path,
                         fix="install pilottrial from its repository (pip install -e <repo>), or pass "
                             "--snakefile <repo>/Snakefile")
    return path


def _snakemake() -> str:
    beside = Path(sys.executable).with_name("snakemake")
    return str(beside) if beside.is_file() else "snakemake"


def run_plan(config_path, cores="all", snakefile=None, extra=()) -> tuple[Path, list]:
    """Where and how the workflow runs for a config: ``(working directory, snakemake command)``.

    The working directory is the repository when the config is inside it (the demo configs, as
    ``make run``), else the config's folder (a trial folder of its own). The flags are those of
    the workflow's default profile (``workflow/profiles/default``), given explicitly because a
    trial folder has no profile: ``--rerun-incomplete`` and ``--rerun-triggers mtime params input
    code``.
    """
    snakefile = workflow_snakefile(snakefile)
    repository = snakefile.parent
    config = Path(config_path).resolve()
    workdir = repository if config.is_relative_to(repository) else config.parent
    command = [_snakemake(), "--snakefile", str(snakefile), "--cores", str(cores),
               "--configfile", str(config.relative_to(workdir)), "--rerun-incomplete",
               "--rerun-triggers", "mtime", "params", "input", "code", *extra]
    return workdir, command


def run_trial(config_path, cores="all", snakefile=None, extra=(), echo=print) -> int:
    """Run the workflow for one trial; returns Snakemake's exit code.

    The config is loaded and validated first (:func:`pilottrial.config.load_config`; a problem
    is an :class:`~pilottrial.errors.InputError`, before Snakemake starts). ``echo`` gets the
    progress lines, the errors and, at the end, the path of the report.
    """
    from pilottrial.config.load import load_config
    from pilottrial.provenance.resume import remove_stale_lock

    config = load_config(config_path)
    workdir, command = run_plan(config_path, cores, snakefile, extra)
    name = config["trial"]["name"]
    if remove_stale_lock(workdir):
        echo("pilottrial: the previous run was interrupted; resuming it (finished results are kept)")
    log = workdir / RUN_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    echo(f"pilottrial: running the workflow for {name!r} in {workdir} (full output: {log})")
    errors, finished = [], ""
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   bufsize=1)
        for line in process.stdout:
            handle.write(line)
            text = line.strip()
            progress, rule = _PROGRESS.match(text), _FINISHED.match(text)
            if rule:
                finished = rule["rule"]
            elif progress:
                done, total, percent = progress.groups()
                echo(f"  [{done:>{len(total)}}/{total}] {percent:>4} done  {finished}".rstrip())
            elif text.startswith("error:") or text.startswith("Error in rule") or "Exception" in text[:40]:
                errors.append(text)
                echo(f"  {text}")
            elif text.startswith("Nothing to be done"):
                echo("  nothing to do: every result is up to date")
        code = process.wait()
    report = workdir / "results" / name / "report.html"
    if code != 0:
        echo(f"pilottrial: the run failed (snakemake exit {code}); see {log}"
             + ("" if errors else " (its last lines name the problem)"))
        return code
    echo(f"report: {report}")
    return 0


def verify_trial(config_path, cores="all", snakefile=None, keep=False, echo=print) -> int:
    """Rerun a trial from scratch in a temporary folder and compare every output with the
    manifest of its run (``results/<trial>/MANIFEST.sha256``), as ``make verify`` does for the
    demo (:mod:`pilottrial.provenance.verify`).

    A config inside the repository is verified by :func:`pilottrial.provenance.verify.verify`;
    a trial folder of its own is copied (the config and the input files it names, at the same
    relative places) and rerun with the same command as :func:`run_trial`. Returns 0 when every
    file matches, 1 on any difference, 2 when the check could not be made.
    """
    from pilottrial.config.load import load_config
    from pilottrial.provenance.manifest import MANIFEST_NAME, compare_manifest, read_manifest
    from pilottrial.provenance.record import GIT_COMMIT_ENV, git_commit, input_files
    from pilottrial.provenance.verify import VerifyError, verify

    config = load_config(config_path)
    name = config["trial"]["name"]
    workdir, command = run_plan(config_path, cores, snakefile)
    try:
        if workdir == workflow_snakefile(snakefile).parent:
            table = verify(workdir, [str(Path(config_path).resolve().relative_to(workdir))], cores=str(cores),
                           keep=keep, echo=echo)
        else:
            manifest = workdir / "results" / name / MANIFEST_NAME
            if not manifest.is_file():
                raise VerifyError(f"{manifest} not found -- run the trial first (pilottrial run {config_path})")
            root = Path(tempfile.mkdtemp(prefix="pilottrial-verify-"))
            try:
                files = [Path(config_path).resolve()] + [Path(item["path"]) for item in input_files(config)]
                for file in files:
                    source = file if file.is_absolute() else workdir / file
                    if source.resolve().is_relative_to(workdir):
                        target = root / source.resolve().relative_to(workdir)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(source, target)
                env = dict(os.environ, **{GIT_COMMIT_ENV: git_commit(workdir)})
                echo(f"rerunning in {root}")
                rerun = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
                if rerun.returncode != 0:
                    raise VerifyError(f"the rerun failed (snakemake exit {rerun.returncode}):\n{rerun.stderr[-2000:]}")
                table = compare_manifest(read_manifest(manifest), root / "results" / name)
                table.insert(0, "trial", name)
            finally:
                if not keep:
                    shutil.rmtree(root, ignore_errors=True)
    except VerifyError as error:
        echo(f"verify: {error}")
        return 2
    bad = table[table["status"] != "ok"]
    for row in bad.itertuples():
        echo(f"{row.status.upper():<10} results/{row.trial}/{row.path}")
    echo(f"{len(table) - len(bad)} of {len(table)} files match the manifest" + ("" if bad.empty else f"; {len(bad)} do not"))
    return 0 if bad.empty else 1
