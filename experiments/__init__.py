"""Experiments on the aimarket model: sweeps, results stores and sensitivity analysis.

Python API (the same as the ``aimarket sweep`` and ``aimarket sensitivity`` commands)::

    from aimarket import experiments
    report = experiments.sweep("experiments/examples/smoke.toml", "results/smoke", workers=2)
    res = experiments.load("results/smoke")       # pandas DataFrames
    res.design, res.summary, res.timeseries, res.labs, res.manifest, res.failures
    experiments.sensitivity("results/sobol", ["final_hhi"])   # a Sobol or Morris sweep

Sub-packages, by job (imports run one way: cli -> questions -> analysis / sweeps / dashboard /
calibration -> the model; tests/test_architecture.py checks it):

- :mod:`aimarket.experiments.sweeps`: the sweep engine (experiment files, designs, sessions, backends,
  the results store); :mod:`~aimarket.experiments.sweeps.spec` is the experiment file format.
- :mod:`aimarket.experiments.analysis`: figures, plots, the report and sensitivity indices, from stores.
- :mod:`aimarket.experiments.questions`: the research questions, their runs, figures and report.
- :mod:`aimarket.experiments.calibration`, :mod:`aimarket.experiments.dashboard`.
- :mod:`aimarket.experiments.cli`: the ``aimarket`` command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["sweep", "load", "sensitivity"]


def sweep(
    experiment_path: str | Path,
    out: str | Path,
    workers: int | None = None,
    scheduler: Any = None,
    resume: bool = False,
    **options: Any,
):
    """Run the experiment file ``experiment_path`` into the results folder ``out``.

    workers: local processes (default: usable cores; 0 = this process). scheduler: a Dask scheduler
    address or ``distributed.Client`` (options: ``scheduler_file=``, ``connect_timeout=`` seconds,
    ``progress=``, ``max_attempts=``, ``run_fn=``, ``slurm=``: True or a dict such as
    ``{"jobs": 8, "walltime": "02:00:00", "interface": "ib0"}`` to run on Dask workers submitted as
    SLURM jobs, see docs/cluster.md). resume: continue the sweep already in ``out`` (options:
    ``verify=True`` compares every finished run's SHA-256, ``allow_code_change=True`` resumes with
    other code and records it). Returns a :class:`aimarket.experiments.sweeps.session_record.SweepReport`;
    the sweep also writes ``out/summary.parquet``, one row per finished run.
    """
    from aimarket.experiments.sweeps.session import sweep as _sweep

    return _sweep(experiment_path, out, workers=workers, scheduler=scheduler, resume=resume, **options)


def load(out: str | Path):
    """Tidy tables of the sweep in ``out``: a :class:`aimarket.experiments.sweeps.store.SweepResults` with pandas
    DataFrames ``design``, ``summary``, ``timeseries``, ``labs`` and ``failures``, and ``manifest``."""
    from aimarket.experiments.sweeps.store import load as _load

    return _load(out)


def sensitivity(out: str | Path, outputs, method: str | None = None, **options: Any):
    """Sobol (S1, ST) or Morris (mu*, sigma) indices of summary ``outputs`` of the sweep in ``out``;
    a pandas DataFrame, also saved under ``out/sensitivity/``."""
    from aimarket.experiments.analysis.sensitivity import sensitivity as _sensitivity

    return _sensitivity(out, outputs, method, **options)
