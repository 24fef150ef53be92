"""The shipped scheduler-file sbatch binds every Dask server to the address the user names (loopback on one
node): a Dask scheduler runs code from whoever reaches it, so nothing may listen on all interfaces.
(``aimarket sweep --slurm``'s binding is tested in tests/test_slurm_options.py and tests/test_slurm.py.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_helpers import REPO, write_experiment

from aimarket.experiments.cli import main
from aimarket.experiments.sweeps.run_folders import completed_runs

SBATCH = REPO / "experiments" / "examples" / "slurm_scheduler_file.sbatch"
ONE_NODE_BIND = "--host 127.0.0.1"


def _dask_commands(script: str) -> dict[str, str]:
    """The ``dask scheduler`` and ``dask worker`` command lines of the sbatch script (continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    commands = {}
    for line in joined.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = re.search(r"\b(dask (scheduler|worker)\b[^&]*)&", line)
        if m:
            commands[m.group(2)] = m.group(1).strip()
    return commands


def test_sbatch_binds_every_dask_server_to_the_named_address():
    script = SBATCH.read_text()
    commands = _dask_commands(script)
    assert set(commands) == {"scheduler", "worker"}
    for command in commands.values():
        assert '"${BIND[@]}"' in command  # --host ADDRESS or --interface NAME, never the default (all interfaces)
        assert "0.0.0.0" not in command and "--listen-address" not in command
    assert "--dashboard-address 127.0.0.1:" in commands["scheduler"]
    assert "--no-dashboard --dashboard-address 127.0.0.1:0" in commands["worker"]
    assert "BIND=(--host 127.0.0.1)" in script  # one node: loopback
    assert "accepts" in script or "runs any code" in script  # says why


def _listening(pids: set[int]) -> list[str]:
    """host:port of every listening TCP socket owned by ``pids`` (from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                host_hex, port_hex = local.split(":")
                host = (
                    ".".join(str(int(host_hex[i:i + 2], 16)) for i in (6, 4, 2, 0)) if width == 8 else host_hex
                )
                found.append(f"{host}:{int(port_hex, 16)}")
    return found


def _descendants(pid: int) -> set[int]:
    out = {pid}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) in out:
                out.add(int(entry))
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to list listening sockets")
def test_one_node_commands_listen_on_loopback_only_and_run_a_sweep(tmp_path, capsys):
    sched = tmp_path / "scheduler.json"
    bindir = Path(sys.executable).parent
    procs = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]), OMP_NUM_THREADS="1")
    try:
        for _role, command in sorted(_dask_commands(SBATCH.read_text()).items()):  # scheduler first
            command = command.replace('"${BIND[@]}"', ONE_NODE_BIND).replace('"$SCHED"', str(sched))
            command = command.replace("127.0.0.1:8787", "127.0.0.1:0")  # any free port for the test
            args = command.split()
            args[0] = str(bindir / "dask")
            procs.append(subprocess.Popen(args, env=env, cwd=tmp_path, start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        exp = write_experiment(tmp_path, 'root_seed = 2\nsteps = 2\noutputs = ["summary"]\n'
                                         '[factors]\n"users.switching_cost" = [0.0, 0.1]\n')
        out = tmp_path / "out"
        status = main(["sweep", str(exp), "--out", str(out), "--scheduler-file", str(sched),
                       "--connect-timeout", "60", "--quiet"])
        assert status == 0, capsys.readouterr().err
        assert completed_runs(out) == {0, 1}
        pids = set().union(*(_descendants(p.pid) for p in procs))
        listening = _listening(pids)
        assert listening, "the Dask servers listen somewhere"
        assert all(address.startswith("127.0.0.1:") for address in listening), listening
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
