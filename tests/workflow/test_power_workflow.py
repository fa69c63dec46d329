"""The power workflow (pilottrial.planning through workflow/rules/power.smk): locally, where 2 and
3 shards give the same power curve, and on a real SLURM cluster, a single-node cluster started
on this machine.

munged, slurmctld and slurmd (Debian's slurm-wlm and munge; ``.ci/install-slurm`` installs them)
run as root from a minimal ``slurm.conf`` and ``cgroup.conf`` in a temporary directory (named
by ``SLURM_CONF``, own munge key and socket, free ports, no accounting database), and the
power rules run through ``snakemake --executor slurm --profile workflow/profiles/slurm``:
every job is an sbatch job, its status polled with squeue. The daemons are stopped by their
PIDs afterwards. Without slurm/munge (or not as root) the test is skipped, except under
``CI=true`` where it fails.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO_ROOT
from project import SNAKEMAKE, power_project, project_env

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel", "srun")
TARGETS = ["results/ketamine-ptsd-demo/power/power_curve.csv", "results/ketamine-ptsd-demo/power/power_curve.png"]


# ------------------------------------------------------------------------------------------
# the rules, locally: 2 and 3 shards give the same power curve
# ------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_power_rules_give_the_same_curve_with_2_and_3_shards(tmp_path):
    curves = {}
    for shards in (2, 3):
        project = power_project(tmp_path / f"shards{shards}", {
            "enabled": True, "effect": ["pilot"], "n_per_arm": [10, 20], "n_sims": 150, "shards": shards})
        run = subprocess.run([SNAKEMAKE, "results/ketamine-ptsd-demo/power/power_curve.csv",
                              "results/ketamine-ptsd-demo/power/power_curve.png",
                              "--cores", "2", "--configfile", "config/power.yaml"],
                             cwd=project, env=project_env(project), capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-3000:]
        out = project / "results/ketamine-ptsd-demo/power"
        assert sorted(p.name for p in (out / "shards").iterdir()) == [f"{i}.csv" for i in range(shards)]
        log = (project / "logs/ketamine-ptsd-demo/power_shard_0.log").read_text()
        assert "simulations" in log and f"shard 1/{shards}" in log
        curves[shards] = (out / "power_curve.csv").read_bytes(), (out / "power_curve.png").read_bytes()
    assert curves[2][0] == curves[3][0]
    assert hashlib.sha256(curves[2][1]).digest() == hashlib.sha256(curves[3][1]).digest()
    table = pd.read_csv(tmp_path / "shards2/results/ketamine-ptsd-demo/power/power_curve.csv")
    assert list(table.columns[:7]) == ["n_per_arm", "power", "mc_lower", "mc_upper", "n_sims", "effect", "method"]


# ------------------------------------------------------------------------------------------
# the rules on SLURM
# ------------------------------------------------------------------------------------------
def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the SLURM integration test must run in CI; .ci/install-slurm "
                    f"installs slurm-wlm and munge)", pytrace=False)
    pytest.skip(reason)


def _program(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its adopter) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _read_pid(path: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.2)
    raise RuntimeError(f"{path} was not written within {timeout:.0f} s")


class SlurmCluster:
    """A one-node SLURM cluster in ``root`` (slurm.conf, cgroup.conf, munge key and socket,
    state, spool, logs, PID files)."""

    def __init__(self, root: Path):
        self.root = root
        self.programs = {name: _program(name) for name in PROGRAMS}
        self.pids: dict[str, int] = {}
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        munge = root / "munge"
        self.socket = munge / "munge.socket"
        cpus = len(os.sched_getaffinity(0))
        mem_total = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal:"))
        memory = max(1024, int(0.8 * mem_total / 1024))
        for sub in ("munge", "state", "spool", "bin"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        munge.chmod(0o711)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self.conf.write_text(f"""\
ClusterName=pilottrial-test
SlurmctldHost={self.host}(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket={self.socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=300
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        # no cgroup enforcement (proctrack/linuxproc, task/none): containers rarely delegate cgroups
        (root / "cgroup.conf").write_text("CgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\n")
        # The slurm-jobstep plugin removes SLURM_* variables (SLURM_CONF too) before the srun it
        # runs inside each job; a cluster's own slurm.conf sits at /etc/slurm, this one does
        # not, so its srun gets the config from a wrapper.
        wrapper = root / "bin" / "srun"
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {self.programs["srun"]} "$@"\n')
        wrapper.chmod(0o755)
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.env["PATH"] = f"{root / 'bin'}:{self.env.get('PATH', '')}"

    def run(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        return subprocess.run([self.programs.get(args[0]) or args[0], *args[1:]], env=self.env, capture_output=True,
                              text=True, check=check, timeout=timeout)

    def start(self):
        m = self.root / "munge"
        self.run("munged", "--force", f"--socket={self.socket}", f"--key-file={m / 'munge.key'}",
                 f"--log-file={m / 'munged.log'}", f"--pid-file={m / 'munged.pid'}", f"--seed-file={m / 'munged.seed'}")
        self.pids["munged"] = _read_pid(m / "munged.pid")
        self.run("slurmctld")
        self.pids["slurmctld"] = _read_pid(self.root / "slurmctld.pid")
        self.run("slurmd")
        self.pids["slurmd"] = _read_pid(self.root / "slurmd.pid")
        deadline = time.monotonic() + 90
        state = ""
        while time.monotonic() < deadline:
            state = self.run("sinfo", "-h", "-o", "%t", check=False).stdout.strip()
            if state == "idle":
                return
            time.sleep(1)
        raise RuntimeError(f"the node is {state!r}, not idle, after 90 s:\n{self.logs()}")

    def stop(self):
        if "slurmctld" in self.pids:
            self.run("scancel", "--user", str(os.getuid()), check=False)
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(name, None)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def logs(self) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munge/munged.log"):
            path = self.root / name
            if path.is_file():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:]))
        return "\n".join(parts)


@pytest.fixture
def slurm_cluster():
    missing = [name for name in PROGRAMS if _program(name) is None]
    if missing:
        _unavailable(f"SLURM/munge programs not installed: {missing} (Debian: apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        _unavailable("starting slurmd and munged needs root")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        _unavailable("snakemake-executor-plugin-slurm is not installed (it is in requirements.lock)")
    root = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))  # short: a unix socket lives there
    cluster = SlurmCluster(root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_workflow_globals_do_not_shadow_the_arguments_of_snakemake_format():
    """Cluster executors name each job script with snakemake.utils.format(pattern, **globals of
    the workflow): a global with the name of one of format's own parameters (``_pattern``,
    ``stepout``, ...) makes every job submission fail ("format() got multiple values")."""
    import inspect
    import re

    from snakemake.utils import format as snakemake_format

    reserved = set(inspect.signature(snakemake_format).parameters) - {"args", "kwargs"}
    clashes = []
    for path in sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk")) + [REPO_ROOT / "Snakefile"]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = re.match(r"(?:def\s+(\w+)\s*\(|(\w+)\s*=[^=]|(?:from\s+\S+\s+)?import\s+.*\bas\s+(\w+))", line)
            name = match and next(g for g in match.groups() if g)
            if name in reserved:
                clashes.append(f"{path.relative_to(REPO_ROOT)}:{number}: {name}")
    assert not clashes, f"rename these workflow globals (they clash with snakemake.utils.format): {clashes}"


@pytest.mark.e2e
def test_power_workflow_runs_on_slurm(slurm_cluster, tmp_path):
    project = power_project(tmp_path / "project", {
        "enabled": True, "effect": ["pilot"], "n_per_arm": [10, 20], "n_sims": 100, "shards": 2})
    env = project_env(project)
    env.update(SLURM_CONF=slurm_cluster.env["SLURM_CONF"], PATH=f"{slurm_cluster.root / 'bin'}:{env['PATH']}")
    run = subprocess.run(
        [SNAKEMAKE, *TARGETS, "--executor", "slurm", "--profile", "workflow/profiles/slurm",
         "--configfile", "config/power.yaml", "--slurm-init-seconds-before-status-checks", "2"],
        cwd=project, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"{run.stderr[-4000:]}\n{slurm_cluster.logs()}"
    assert "SLURM jobid" in run.stderr
    curve = pd.read_csv(project / TARGETS[0])
    assert list(curve.columns[:7]) == ["n_per_arm", "power", "mc_lower", "mc_upper", "n_sims", "effect", "method"]
    simulated = curve[curve["method"] == "simulation"]
    assert list(simulated["n_per_arm"]) == [10, 20] and (simulated["n_sims"] == 100).all()
    assert (project / TARGETS[1]).read_bytes().startswith(b"\x89PNG")
    for shard in (0, 1):
        log = (project / f"logs/ketamine-ptsd-demo/power_shard_{shard}.log").read_text()
        assert f"shard {shard + 1}/2:" in log and "simulated trials written" in log
    # every rule ran as a SLURM job of this cluster (squeue lists finished jobs for MinJobAge)
    jobs = slurm_cluster.run("squeue", "--states=all", "-h", "-o", "%k|%T").stdout.split()
    rules = {line.split("|")[0].split("_wildcards")[0] for line in jobs if line.endswith("|COMPLETED")}
    assert {"rule_ingest", "rule_power_shard", "rule_power_gather"} <= rules, jobs
