"""Sweeps on a real one-node SLURM (scripts/slurm-test-cluster): `aimarket sweep --slurm` gives the
bytes of a local sweep, survives its worker jobs being cancelled, resumes after Ctrl-C, and the
scheduler-file sbatch runs end to end. Every address bound is loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from slurm_cluster import REPO, slurm_cluster  # noqa: F401 - the session fixture
from sweep_helpers import GRID, run_files, write_experiment

from aimarket import experiments
from aimarket.experiments.sweeps.store import completed_runs

pytestmark = pytest.mark.slurm

# 16 runs of about 2 s each: long enough to cancel the worker jobs part-way
LONG = """root_seed = 3
replications = 4
steps = 40
[factors]
"users.switching_cost" = [0.0, 0.1]
"users.value_sigma" = [0.1, 0.4]
"""


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory) -> Path:
    """One numba cache for every SLURM worker of these tests (kernels compiled once)."""
    return tmp_path_factory.mktemp("numba-cache")


def _sweep_cli(exp: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "aimarket.experiments.cli", "sweep", str(exp), "--out", str(out), "--quiet",
        "--slurm", "--slurm-jobs", "2", "--slurm-memory", "1GB", "--slurm-walltime", "00:10:00",
        "--interface", "lo", "--numba-cache", str(cache), *extra,
    ]  # fmt: skip


def _job_logs(out: Path) -> set[str]:
    return {p.stem for p in (out / ".slurm" / "logs").glob("*.err")}


def _listening(cluster, client_pid: int) -> set[tuple[str, int, str]]:
    """(address, port, process) of every socket listening in the sweep's processes, its jobs and the
    SLURM daemons (job processes are found by the SLURM_CONF in their environment)."""
    pids = {client_pid, *cluster.daemon_pids()}
    try:
        pids |= {p.pid for p in psutil.Process(client_pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        pass
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("SLURM_CONF") == str(cluster.conf):
                pids.add(proc.pid)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    found = set()
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            try:
                name = psutil.Process(conn.pid).name()
            except psutil.NoSuchProcess:
                name = "?"
            found.add((conn.laddr.ip, conn.laddr.port, name))
    return found


def _assert_loopback(sockets) -> None:
    outside = sorted(s for s in sockets if not (s[0].startswith("127.") or s[0] == "::1"))
    assert not outside, f"listening outside loopback: {outside}"


def test_slurm_sweep_is_byte_identical_to_local(slurm_cluster, numba_cache, tmp_path):  # noqa: F811
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "slurm"
    res = subprocess.run(_sweep_cli(exp, out, numba_cache), env=slurm_cluster.env(), capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "8/8 runs done" in res.stderr and "on slurm x2" in res.stderr

    local = tmp_path / "local"
    experiments.sweep(exp, local, workers=2, progress=False)
    assert run_files(out) == run_files(local)
    assert (out / "summary.parquet").read_bytes() == (local / "summary.parquet").read_bytes()

    backend = json.loads((out / "manifest.json").read_text())["sessions"][-1]["backend"]
    assert backend["kind"] == "slurm" and backend["jobs"] == 2 and backend["scheduler"].startswith("tcp://127.0.0.1:")
    assert "--lifetime" in backend["job_script"] and f"NUMBA_CACHE_DIR={numba_cache}" in backend["job_script"]
    assert len(_job_logs(out)) >= 2  # two SLURM jobs ran workers
    assert slurm_cluster.job_ids(backend["job_name"]) == []  # and the sweep cancelled them at the end


def test_cancelled_jobs_then_ctrl_c_then_resume_loses_nothing(slurm_cluster, numba_cache, tmp_path):  # noqa: F811
    exp = write_experiment(tmp_path, LONG)
    out = tmp_path / "slurm"
    proc = subprocess.Popen(_sweep_cli(exp, out, numba_cache), env=slurm_cluster.env(), stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, start_new_session=True)  # fmt: skip
    sockets: set = set()
    try:
        _wait_for_runs(proc, out, 2, sockets, slurm_cluster)
        manifest = json.loads((out / "manifest.json").read_text())
        job_name = manifest["sessions"][-1]["backend"]["job_name"]
        first_jobs = slurm_cluster.job_ids(job_name)
        assert len(first_jobs) == 2
        subprocess.run(["scancel", *first_jobs], env=slurm_cluster.env(), check=True, timeout=30)
        done_at_cancel = len(completed_runs(out))
        # the sweep goes on, on fresh jobs
        _wait_for_runs(proc, out, done_at_cancel + 2, sockets, slurm_cluster, timeout=180)
        fresh = set(slurm_cluster.job_ids(job_name)) - set(first_jobs)
        assert fresh, "no fresh worker jobs after the first ones were cancelled"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr = proc.stderr.read()
    assert proc.returncode == 130, stderr[-3000:]
    done_at_interrupt = len(completed_runs(out))
    assert done_at_interrupt < 16, "the sweep ended before it was interrupted: make LONG longer"
    assert slurm_cluster.job_ids(job_name) == [], "jobs left running after Ctrl-C"
    _assert_loopback(sockets)

    res = subprocess.run(_sweep_cli(exp, out, numba_cache, "--resume"), env=slurm_cluster.env(),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["interrupted", "complete"]
    assert sessions[1]["runs_done"] == 16 - done_at_interrupt  # only what was missing

    local = tmp_path / "local"
    experiments.sweep(exp, local, workers=2, progress=False)
    assert run_files(out) == run_files(local)
    assert slurm_cluster.wait_until_empty() == []


def _wait_for_runs(proc, out: Path, n: int, sockets: set, cluster, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(completed_runs(out)) < n:
        if proc.poll() is not None:
            pytest.fail(f"sweep ended early (status {proc.returncode}): {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"fewer than {n} runs done after {timeout} s")
        sockets |= _listening(cluster, proc.pid)
        time.sleep(0.5)


def test_scheduler_file_sbatch_end_to_end(slurm_cluster, numba_cache, tmp_path):  # noqa: F811
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "sbatch"
    log = tmp_path / "job.log"
    script = REPO / "experiments" / "examples" / "slurm_scheduler_file.sbatch"
    # a stale scheduler file of an earlier start of the same job id must not be used: plant one for
    # every id the next job can get (the script deletes it first)
    for job_id in range(1, 200):
        (tmp_path / f"dask-scheduler-{job_id}.json").write_text('{"address": "tcp://127.0.0.1:9"}')
    env = slurm_cluster.env(AIMARKET_VENV=str(Path(sys.executable).parents[1]), NUMBA_CACHE_DIR=str(numba_cache))
    proc = subprocess.Popen(
        ["sbatch", "--wait", "--nodes=1", "--ntasks-per-node=2", "--mem-per-cpu=1G", "--time=00:10:00",
         f"--output={log}", f"--chdir={tmp_path}", str(script), str(exp), str(out), "lo"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    sockets: set = set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        sockets |= _listening(slurm_cluster, proc.pid)
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    stdout, stderr = proc.communicate()
    text = log.read_text() if log.exists() else ""
    assert proc.returncode == 0, (stderr + text)[-4000:]
    assert "8/8 runs done" in text and "on dask x2" in text
    assert len({s[2] for s in sockets}) >= 1 and len(sockets) >= 4  # scheduler, nannies and workers seen
    _assert_loopback(sockets)
    job_id = stdout.split()[-1]
    assert not (tmp_path / f"dask-scheduler-{job_id}.json").exists()  # stale file deleted, own file removed
    local = tmp_path / "local"
    experiments.sweep(exp, local, workers=2, progress=False)
    assert run_files(out) == run_files(local)
    for address in ("Scheduler at:", "Listening to:", "dashboard at:"):
        lines = [line for line in text.splitlines() if address in line]
        assert lines and all("127.0.0.1" in line for line in lines), lines


@pytest.mark.slow
def test_sweep_longer_than_a_walltime_goes_on_with_fresh_jobs(slurm_cluster, numba_cache, tmp_path):  # noqa: F811
    # walltime 2 min: each worker retires after 54 +- 6 s, and the sweep needs about 2 minutes of work
    exp = write_experiment(tmp_path, LONG.replace("replications = 4", "replications = 16"))
    out = tmp_path / "slurm"
    cmd = _sweep_cli(exp, out, numba_cache)
    cmd[cmd.index("00:10:00")] = "00:02:00"
    started = time.monotonic()
    res = subprocess.run(cmd, env=slurm_cluster.env(), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert time.monotonic() - started > 120, "the sweep was shorter than a walltime: make it longer"
    assert len(_job_logs(out)) >= 4  # the first two jobs retired and fresh ones took over
    local = tmp_path / "local"
    experiments.sweep(exp, local, workers=2, progress=False)
    assert run_files(out) == run_files(local)
