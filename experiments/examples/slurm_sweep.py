"""Run a sweep on a SLURM cluster: dask-jobqueue starts Dask workers as SLURM jobs.

Run this on a login node (or inside a small, long SLURM job, see docs/cluster.md)::

    pip install dask-jobqueue
    python experiments/examples/slurm_sweep.py experiments/examples/sobol.toml --out results/sobol \\
        --jobs 10 --cores 32 --memory 64GB --walltime 04:00:00 --queue compute --account myproject

Each SLURM job runs ``--processes`` Dask worker processes (default: one per core, one thread each);
every worker warms the model up once. Runs that finish are on disk at once; if this script, a job
or the whole allocation dies, start it again with ``--resume`` and only the missing runs are made.
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description="aimarket sweep on SLURM via dask-jobqueue")
    parser.add_argument("experiment", help="experiment TOML file")
    parser.add_argument("--out", required=True, help="results folder (on a shared file system)")
    parser.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    parser.add_argument("--jobs", type=int, default=4, help="SLURM jobs (nodes) at most (default 4)")
    parser.add_argument("--cores", type=int, default=32, help="cores per job (default 32)")
    parser.add_argument(
        "--processes", type=int, default=None, help="worker processes per job (default: --cores)"
    )
    parser.add_argument("--memory", default="64GB", help="memory per job (default 64GB)")
    parser.add_argument("--walltime", default="04:00:00", help="walltime per job (default 04:00:00)")
    parser.add_argument("--queue", default=None, help="SLURM partition (#SBATCH -p)")
    parser.add_argument("--account", default=None, help="SLURM account (#SBATCH -A)")
    parser.add_argument("--venv", default=None, help="virtual environment to activate in each job")
    parser.add_argument(
        "--adapt",
        action="store_true",
        help="scale between 1 and --jobs jobs with the queue of runs (default: --jobs fixed)",
    )
    args = parser.parse_args()

    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        print("slurm_sweep.py needs dask-jobqueue: pip install dask-jobqueue", file=sys.stderr)
        return 2
    from distributed import Client

    import experiments

    prologue = [f"source {args.venv}/bin/activate"] if args.venv else []
    prologue += ["export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1"]
    cluster = SLURMCluster(
        cores=args.cores,
        processes=args.processes or args.cores,  # one single-threaded worker process per core
        memory=args.memory,
        walltime=args.walltime,
        queue=args.queue,
        account=args.account,
        job_script_prologue=prologue,
        log_directory="dask-logs",
    )
    print(cluster.job_script(), file=sys.stderr)
    if args.adapt:
        cluster.adapt(minimum_jobs=1, maximum_jobs=args.jobs)
    else:
        cluster.scale(jobs=args.jobs)
    with cluster, Client(cluster) as client:
        print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
        report = experiments.sweep(args.experiment, args.out, scheduler=client, resume=args.resume)
    print(report.line(), file=sys.stderr)
    return 0 if report.complete else 1


if __name__ == "__main__":
    sys.exit(main())
