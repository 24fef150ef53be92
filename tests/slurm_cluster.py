"""A real one-node SLURM for the tests marked ``slurm``: the session fixture ``slurm_cluster`` runs
``scripts/slurm-test-cluster start`` in a temporary folder and ``stop`` at the end, whatever happens.

Where SLURM cannot be installed (not root, no apt, no package registry), the tests are skipped with
the script's one-line reason; where it is installed but does not come up, they fail with its logs.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-test-cluster"
CANNOT_INSTALL = 3  # the script's exit status when SLURM cannot be had on this machine


@dataclass(frozen=True)
class SlurmTestCluster:
    folder: Path
    conf: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process that uses this cluster."""
        return dict(os.environ, SLURM_CONF=str(self.conf), **extra)

    def daemon_pids(self) -> list[int]:
        files = [self.folder / "slurmctld.pid", self.folder / "slurmd.pid", self.folder / "munge" / "munged.pid"]
        return [int(f.read_text()) for f in files if f.is_file()]

    def job_ids(self, name: str | None = None) -> list[str]:
        """Ids of the jobs in the queue (of the job name ``name``)."""
        cmd = ["squeue", "-h", "-o", "%i"] + ([f"--name={name}"] if name else [])
        res = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=30, check=True)
        return res.stdout.split()

    def wait_until_empty(self, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while (jobs := self.job_ids()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return jobs


def _reason(res: subprocess.CompletedProcess) -> str:
    lines = [line for line in (res.stderr or "").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {res.returncode}"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    try:
        res = subprocess.run(
            ["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], timeout=120)
        pytest.fail("scripts/slurm-test-cluster start did not finish within 15 minutes")
    if res.returncode == CANNOT_INSTALL:
        pytest.skip(f"SLURM cannot be started on this machine: {_reason(res)}")
    if res.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], timeout=120)
        pytest.fail(f"scripts/slurm-test-cluster start failed:\n{res.stderr[-4000:]}")
    cluster = SlurmTestCluster(folder, folder / "slurm.conf")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        pids = cluster.daemon_pids()
        stop = subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, text=True, timeout=120)
        assert stop.returncode == 0, stop.stderr
        alive = [pid for pid in pids if _alive(pid)]
        assert not alive, f"daemons still running after stop: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
