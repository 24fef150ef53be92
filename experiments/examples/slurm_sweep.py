"""Run a sweep on a SLURM cluster: dask-jobqueue starts Dask workers as SLURM jobs.

Run this on a login node (or inside a small, long SLURM job, see docs/cluster.md)::

    pip install dask-jobqueue
    python experiments/examples/slurm_sweep.py experiments/examples/sobol.toml --out results/sobol \\
        --interface ib0 --jobs 10 --cores 32 --memory 64GB --walltime 04:00:00 --queue compute \\
        --account myproject

Each SLURM job runs ``--processes`` Dask worker processes (default: one per core, one thread each);
every worker warms the model up once. Runs that finish are on disk at once; if this script, a job
or the whole allocation dies, start it again with ``--resume`` and only the missing runs are made.

Network: a Dask scheduler runs any code sent by whoever can connect to it, and so do its workers. The
scheduler and the workers therefore listen only on the network interface you name with ``--interface``
(the cluster's internal network, e.g. ``ib0``; ask your admins), never on all interfaces; the dashboard
listens on 127.0.0.1 of the login node (``--dashboard-address`` to change it; view it through
``ssh -L 8787:127.0.0.1:8787 LOGIN``) and the workers run without one.
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description="aimarket sweep on SLURM via dask-jobqueue")
    parser.add_argument("experiment", help="experiment TOML file")
    parser.add_argument("--out", required=True, help="results folder (on a shared file system)")
    parser.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    parser.add_argument(
        "--interface",
        required=True,
        help="network interface the scheduler and workers listen on: the cluster's internal network, e.g. ib0",
    )
    parser.add_argument(
        "--dashboard-address",
        default="127.0.0.1:8787",
        help="where the scheduler's dashboard listens (default 127.0.0.1:8787: this machine only)",
    )
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
        interface=args.interface,  # workers listen on this interface's address only
        scheduler_options={"interface": args.interface, "dashboard_address": args.dashboard_address},
        # no worker dashboard; the /health and /metrics HTTP server it keeps listens on the node's loopback
        worker_extra_args=["--no-dashboard", "--dashboard-address", "127.0.0.1:0"],
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
