"""`--slurm` without a cluster: option layers and validation, one-line errors before anything is
written, the worker job script, and a stale scheduler file."""

from __future__ import annotations

import sys

import pytest
from sweep_helpers import GRID, write_experiment

from aimarket.experiments.cli import main
from aimarket.experiments.sweeps import scheduler_connection, slurm_options
from aimarket.experiments.sweeps.slurm import cluster_kwargs, prepare
from aimarket.experiments.sweeps.slurm_options import SlurmOptions, parse_walltime, resolve
from aimarket.simulation.errors import EnvironmentFault, UserInputError


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.delenv("AIMARKET_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_walltime_and_worker_lifetime():
    assert parse_walltime("01:00:00", "w") == 3600 and parse_walltime("1-00:00:00", "w") == 86400
    assert parse_walltime("30:00", "w") == 1800
    assert SlurmOptions(walltime="01:00:00").lifetime() == (3600 - 360 - 180, 180)
    assert SlurmOptions(walltime="00:02:00").lifetime() == (120 - 60 - 6, 6)
    assert SlurmOptions(walltime="2-00:00:00").lifetime() == (172800 - 600 - 300, 300)
    for bad in ("1h", "00:01:00", "", "25:61"):
        with pytest.raises(UserInputError, match="walltime"):
            parse_walltime(bad, "walltime")


def test_layers_command_line_over_experiment_over_user_config(tmp_path, monkeypatch):
    config = tmp_path / "config" / "aimarket" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[slurm]\njobs = 3\nqueue = "long"\naccount = "me"\nprologue = "module load x"\n')
    assert resolve(True, None) == SlurmOptions(jobs=3, queue="long", account="me", prologue=("module load x",))
    raw = {"slurm": {"jobs": 5, "walltime": "02:00:00"}}
    assert resolve(True, raw) == SlurmOptions(
        jobs=5, walltime="02:00:00", queue="long", account="me", prologue=("module load x",)
    )
    assert resolve({"jobs": "7", "queue": None}, raw).jobs == 7
    monkeypatch.setenv("AIMARKET_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(UserInputError, match="AIMARKET_CONFIG: file not found"):
        resolve(True, None)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"jobz": 2}, "slurm.jobz: unknown key (allowed: jobs, walltime"),
        ({"jobs": 0}, "slurm.jobs: must be an integer >= 1"),
        ({"memory": "lots"}, "slurm.memory: must be a size such as 2GB"),
        ({"memory": "100MB"}, "slurm.memory: must be at least 256MB"),
        ({"queue": "two words"}, "slurm.queue: must be a non-empty name without spaces"),
        ({"sbatch": [1]}, "slurm.sbatch: must be a list of strings"),
    ],
)
def test_bad_sections_are_one_line_naming_the_key(section, message):
    with pytest.raises(UserInputError) as err:
        slurm_options.parse_section(section, "slurm")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def _cli(tmp_path, *args):
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    return main(["sweep", str(exp), "--out", str(out), *args]), out


@pytest.mark.parametrize(
    "args, status, message",
    [
        (["--slurm-jobs", "2"], 2, "--slurm-jobs: only with --slurm"),
        (["--slurm"], 2, "--interface: required with --slurm"),
        (["--slurm", "--interface", "nosuch0"], 2, "--interface: no interface 'nosuch0' on this machine (allowed: "),
        (["--slurm", "--interface", "lo", "--slurm-jobs", "x"], 2, "--slurm-jobs: must be an integer >= 1"),
        (["--slurm", "--interface", "lo", "--workers", "2"], 2, "--slurm: starts its own Dask cluster"),
        (["--slurm", "--interface", "lo", "--slurm-walltime", "5"], 2, "--slurm-walltime: must be a SLURM time"),
        (["--slurm", "--interface", "lo", "--slurm-memory", "2"], 2, "--slurm-memory: must be a size such as 2GB"),
    ],
)
def test_cli_errors_before_anything_is_written(tmp_path, capsys, args, status, message):
    code, out = _cli(tmp_path, *args)
    err = capsys.readouterr().err
    assert code == status and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_without_dask_jobqueue_says_to_install_the_cluster_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import fails as if not installed
    code, out = _cli(tmp_path, "--slurm", "--interface", "lo")
    err = capsys.readouterr().err
    assert code == 2 and "install the cluster extra: pip install 'aimarket[cluster]'" in err and err.count("\n") == 1
    assert not out.exists()


def test_without_sbatch_is_an_environment_fault(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out = _cli(tmp_path, "--slurm", "--interface", "lo")
    err = capsys.readouterr().err
    assert code == 1 and "'sbatch' not found on PATH" in err and err.count("\n") == 1
    assert not out.exists()


def test_experiment_file_slurm_section_is_checked_and_not_part_of_the_identity(tmp_path, capsys):
    from aimarket.experiments.sweeps.spec import read_experiment

    plain = read_experiment(write_experiment(tmp_path, GRID, "a.toml"))
    with_slurm = read_experiment(write_experiment(tmp_path, GRID + '[slurm]\njobs = 8\nqueue = "q"\n', "b.toml"))
    assert plain.fingerprint() == with_slurm.fingerprint()
    bad = write_experiment(tmp_path, GRID + "[slurm]\nnodes = 8\n", "c.toml")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "c.toml: slurm.nodes: unknown key" in capsys.readouterr().err


def test_worker_job_script(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    options = SlurmOptions(jobs=2, walltime="00:30:00", memory="1GB", queue="short", account="proj",
                           interface="lo", numba_cache=str(tmp_path / "cache"), sbatch=("--qos=low",))  # fmt: skip
    kwargs = cluster_kwargs(options, tmp_path / "logs", "aimarket-test")
    with SLURMCluster(**kwargs) as cluster:
        script = cluster.job_script()
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
    for line in ("#SBATCH -J aimarket-test", "#SBATCH -p short", "#SBATCH -A proj", "#SBATCH --mem=954M",
                 "#SBATCH -t 00:30:00", "#SBATCH --qos=low", "#SBATCH --cpus-per-task=1",
                 f"export NUMBA_CACHE_DIR={tmp_path / 'cache'}", "--nthreads 1", "--interface lo",
                 "--lifetime 1530s --lifetime-stagger 90s", '--dashboard-address "${AIMARKET_WORKER_HOST}:0"'):  # fmt: skip
        assert line in script, line
    assert "--nworkers" not in script  # one worker process per job


def test_prepare_puts_the_numba_cache_in_the_results_folder(tmp_path, monkeypatch):
    pytest.importorskip("dask_jobqueue")
    monkeypatch.setattr("aimarket.experiments.sweeps.slurm.require_sbatch", lambda: None)
    monkeypatch.setattr("aimarket.experiments.sweeps.slurm.test_submission", lambda options: None)
    options = prepare(SlurmOptions(interface="lo"), tmp_path / "out")
    assert options.numba_cache == str((tmp_path / "out" / ".slurm" / "numba-cache").resolve())


def test_stale_scheduler_file_is_one_line(tmp_path):
    stale = tmp_path / "scheduler.json"
    stale.write_text('{"address": "tcp://127.0.0.1:9"}')  # nothing listens on the discard port
    with pytest.raises(EnvironmentFault, match="no Dask scheduler answered within 2 s .*a stale file"):
        scheduler_connection.connect(scheduler_file=stale, timeout=2)
