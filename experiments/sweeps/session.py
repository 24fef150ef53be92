"""One sweep session: check the results folder, plan what is missing, run it and keep the records.

:func:`sweep` is the engine behind ``aimarket sweep`` and :func:`experiments.sweep`.

Identity of a sweep: the experiment's fingerprint (everything in the file that defines runs), the
hash of the resolved base scenario and the hash of the design, plus the *code identity* (package
version, git commit and dirty state of the model code, hash of its sources, the run function: see
:mod:`aimarket.experiments.sweeps.code_identity`). A results folder holds exactly one sweep: ``sweep`` refuses a
non-empty folder that is not this sweep's, and refuses this sweep's folder unless ``resume`` is set.
``resume`` with different code is refused (naming what differs) unless ``allow_code_change`` is set;
then every session records its code in the manifest and every run folder the code that made it.
With ``resume`` it verifies every finished run folder (sizes; SHA-256 too with ``verify``), deletes
partial files and folders that fail, keeps every verified run and runs the others (failed runs of
earlier sessions are tried again).
"""

from __future__ import annotations

import hashlib
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aimarket.experiments.sweeps import code_identity, store, summary_table
from aimarket.experiments.sweeps.design import (
    build_runs,
    design_table,
    load_base_scenario,
    run_overrides,
    sampler_seed,
    validate_against_scenario,
)
from aimarket.experiments.sweeps.run_folders import describe_bad, verify_runs
from aimarket.experiments.sweeps.runner import Backend, Task, resolve_run_fn, run_tasks
from aimarket.experiments.sweeps.session_record import SessionRecord, SweepReport, now, progress_bar
from aimarket.experiments.sweeps.spec import Experiment, read_experiment
from aimarket.simulation.errors import EnvironmentFault, ExperimentError
from aimarket.simulation.output_folders import ensure_writable_folder

FORMAT = 2  # 2: run folders hold _files.json and a _SUCCESS with its hash; manifests record code identities


def prepare(experiment_path: str | Path):
    """Read and fully validate an experiment: (experiment, base scenario, runs, design table, identity)."""
    from aimarket.simulation.scenario.schema import scenario_hash

    name = Path(experiment_path).name
    try:
        exp = read_experiment(experiment_path)
        base = load_base_scenario(exp)
        runs = build_runs(exp)
        validate_against_scenario(exp, base, runs)
    except ExperimentError as exc:
        text = str(exc)
        raise ExperimentError(
            text if text.startswith(name) or text.startswith("/") else f"{name}: {text}"
        ) from None
    design = design_table(exp, runs)
    design_bytes = store.parquet_bytes(design)
    identity = {
        "experiment": exp.fingerprint(),
        "base_scenario": scenario_hash(base),
        "design": hashlib.sha256(design_bytes).hexdigest(),
    }
    return exp, base, runs, design_bytes, identity


def _check_folder(
    out: Path, identity: dict, resume: bool, code: dict | None = None, allow_code_change: bool = False
) -> dict | None:
    """Apply the one-folder-one-sweep rule (and the one-code rule, see :func:`_check_code`); returns
    the existing manifest when resuming."""
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"--out {out}: exists and is not a folder")
    if not store.is_nonempty(out):
        return None
    manifest = store.read_manifest(out)
    if manifest is None:
        raise ExperimentError(
            f"--out {out}: folder is not empty and holds no sweep (choose a new or empty folder)"
        )
    if manifest.get("identity") != identity:
        differs = [k for k in identity if (manifest.get("identity") or {}).get(k) != identity[k]]
        raise ExperimentError(
            f"--out {out}: holds a different sweep ({', '.join(differs) or 'identity'} differs); "
            "choose another folder"
        )
    if not resume:
        n_done = len(store.completed_runs(out))
        raise ExperimentError(
            f"--out {out}: holds this sweep already ({n_done}/{manifest.get('n_runs')} runs done); "
            "add --resume to run what is missing"
        )
    if code is not None:
        _check_code(out, manifest, code, allow_code_change)
    return manifest


def latest_code(manifest: dict) -> dict | None:
    """The code identity of the store's latest session (or of the store, before any session)."""
    for session in reversed(manifest.get("sessions") or []):
        if isinstance(session, dict) and isinstance(session.get("code"), dict):
            return session["code"]
    return manifest.get("code")


def _check_code(out: Path, manifest: dict, code: dict, allow_code_change: bool) -> None:
    """Refuse to resume with code other than the latest session's, unless told to allow it."""
    differs = code_identity.differences(latest_code(manifest), code)
    if differs and not allow_code_change:
        raise ExperimentError(
            f"--out {out}: its runs were made by different code ({'; '.join(differs)}); "
            "resume with the same code, or add --allow-code-change to record the change and go on"
        )


def _new_manifest(exp: Experiment, base, runs, identity: dict, code: dict) -> dict[str, Any]:
    from aimarket.simulation.scenario.schema import scenario_to_dict

    return {
        "format": FORMAT,
        "identity": identity,
        "experiment_file": str(exp.path),
        "experiment_text": exp.text,
        "experiment": {
            "root_seed": exp.root_seed,
            "replications": exp.replications,
            "steps": exp.steps,
            "outputs": list(exp.outputs),
            "overrides": exp.overrides,
            "factors": [_factor_record(f) for f in exp.factors],
            "scenario_file": str(exp.scenario_path),
            "description": exp.description,
            "report": {"outputs": list(exp.report_outputs)},
        },
        "base_scenario": scenario_to_dict(base),
        "root_seed": exp.root_seed,
        "seeding": "SeedSequence(root_seed).spawn(n_runs)[run_id].generate_state(1, uint64)[0] >> 1",
        "sampler": {"method": exp.method, "args": exp.sampler, "seed": sampler_seed(exp.root_seed)},
        "n_runs": len(runs),
        "versions": store.package_versions(),
        "git": store.git_state(),
        "code": code,
        "code_changed": False,
        "started": now(),
        "finished": None,
        "status": "running",
        "completed_runs": 0,
        "failed_runs": [],
        "sessions": [],
    }


def _factor_record(f) -> dict:
    rec = dict(f.__dict__)
    rec["type"] = "range" if hasattr(f, "low") else "list"
    if "values" in rec:
        rec["values"] = list(rec["values"])
    return rec


def sweep(
    experiment_path: str | Path,
    out: str | Path,
    workers: int | None = None,
    scheduler: Any = None,
    resume: bool = False,
    *,
    scheduler_file: str | Path | None = None,
    progress: bool | None = None,
    max_attempts: int = 3,
    run_fn: str | None = None,
    allow_code_change: bool = False,
    verify: bool = False,
    connect_timeout: float | None = None,
    slurm: Any = None,
) -> SweepReport:
    """Run every missing run of the experiment file ``experiment_path`` into the folder ``out``.

    workers: local worker processes (default: the usable cores; 0 runs in this process).
    scheduler: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``;
    scheduler_file: a Dask scheduler file (either one selects the Dask backend).
    resume: continue the sweep already in ``out`` (required when ``out`` holds it).
    progress: show a tqdm bar (default: when stderr is a terminal).
    max_attempts: attempts per run whose worker process died (a run that raises is not retried).
    run_fn: ``"module:function"`` called instead of ``aimarket.simulation.run.simulate`` (tests, benchmarks);
    it is part of the code identity.
    allow_code_change: resume even if the code identity differs from the latest session's.
    verify: on resume, compare every finished run's SHA-256 hashes (sizes are always compared).
    connect_timeout: seconds to wait for a Dask scheduler or its scheduler file (default 10).
    slurm: run on Dask workers submitted as SLURM jobs (:mod:`aimarket.experiments.sweeps.slurm`): True for the
    defaults of the ``[slurm]`` sections, or a dict of :class:`aimarket.experiments.sweeps.slurm_options.SlurmOptions`
    keys (``{"jobs": 8, "walltime": "02:00:00", "interface": "ib0"}``).
    Returns a :class:`SweepReport` (``out/summary.parquet`` is rewritten at the end of a session that
    is not interrupted); raises :class:`ExperimentError` for bad input and
    :class:`~aimarket.simulation.errors.EnvironmentFault` for an unwritable disk, an unreachable scheduler or a
    machine without SLURM.
    """
    if scheduler is not None and scheduler_file is not None:
        raise ExperimentError("--scheduler and --scheduler-file: give one, not both")
    if workers is not None and workers < 0:
        raise ExperimentError(f"--workers: must be >= 0 (got {workers})")
    t0 = time.perf_counter()
    out = Path(out).resolve()
    _import_run_fn(run_fn)  # before validation: its module may register the strategies the runs use
    exp, base, runs, design_bytes, identity = prepare(experiment_path)
    if slurm is not None and slurm is not False:
        from aimarket.experiments.sweeps.slurm import sweep_backend

        # options checked (sbatch --test-only included) before anything is written
        backend = sweep_backend(slurm, exp, out, workers, scheduler, scheduler_file)
    else:
        backend = Backend(workers, scheduler, None if scheduler_file is None else str(scheduler_file), connect_timeout)
    code = code_identity.code_identity(run_fn)
    _check_folder(out, identity, resume, code, allow_code_change)
    ensure_writable_folder(out)
    try:
        backend.connect()  # before anything is written: an unreachable scheduler changes nothing
        (out / store.RUNS).mkdir(parents=True, exist_ok=True)
        with store.FolderLock(out), _sigterm_as_interrupt():
            manifest = _check_folder(out, identity, resume, code, allow_code_change)  # again, under the lock
            return _run_session(
                exp, base, runs, design_bytes, identity, code, manifest, out, t0, backend, progress,
                max_attempts, run_fn, verify,
            )
    finally:
        backend.close()


def _import_run_fn(run_fn: str | None) -> None:
    if run_fn is None:
        return
    try:
        resolve_run_fn(run_fn)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ExperimentError(f"run_fn {run_fn!r}: cannot be imported ({type(exc).__name__}: {exc})") from None


def _run_session(
    exp, base, runs, design_bytes, identity, code, manifest, out, t0, backend, progress, max_attempts, run_fn, verify
) -> SweepReport:
    manifest, done, bad = _prepare_folder(exp, base, runs, design_bytes, identity, code, manifest, out, verify)
    todo = [r for r in runs if r.run_id not in done]
    if code_identity.differences(latest_code(manifest), code):
        manifest["code_changed"] = True  # allowed by allow_code_change; each session and run says which code
    session = _open_session(manifest, backend, code, verify, bad, todo)
    report = SweepReport(out, len(runs), len(done), 0, remade=len(bad))
    record = SessionRecord(out, manifest, session, done, code, report)
    record.save()
    record.bar = progress_bar(len(runs), len(done), progress)
    base_dict = manifest["base_scenario"]
    tasks = [Task(r.run_id, r.seed, base_dict, run_overrides(exp, r), exp.outputs, run_fn) for r in todo]
    status = "interrupted"
    try:
        if tasks:
            run_tasks(backend, tasks, record.on_outcome, max_attempts=max_attempts)
        session["backend"] = session["backend"] | backend.describe()
        status = "complete" if len(done) == len(runs) else "incomplete"
    except EnvironmentFault as exc:
        status = "interrupted"
        session["error"] = str(exc)  # a full disk, say: the manifest says why the session stopped
        raise
    finally:
        backend.close(cancel=status == "interrupted")
        if record.bar is not None:
            record.bar.close()
        record.save(status)
    summary_table.write(out)  # the combined table of every finished run (not after an interruption)
    report.failed = record.failed_runs()
    report.seconds = time.perf_counter() - t0
    report.backend = session["backend"]
    return report


def _prepare_folder(exp, base, runs, design_bytes, identity, code, manifest, out, verify):
    """Verify the finished runs (remove partial and bad ones), write the manifest of a new sweep and the
    design table; returns ``(manifest, done run ids, bad runs)``."""
    done, bad = verify_runs(out, hashes=verify) if manifest is not None else (set(), {})
    store.clean_partial(out, remove=set(bad))
    if bad:
        print(
            f"sweep {out}: {len(bad)} finished run(s) failed verification and will be run again: "
            f"{describe_bad(bad)}",
            file=sys.stderr,
        )
    if manifest is None:
        manifest = _new_manifest(exp, base, runs, identity, code)
        store.write_manifest(out, manifest)  # first: a folder with a manifest is this sweep's
    design_path = out / store.DESIGN
    if not design_path.is_file() or design_path.read_bytes() != design_bytes:
        store.atomic_write(design_path, design_bytes)
    return manifest, done, bad


def _open_session(manifest: dict, backend, code: dict, verify: bool, bad: dict, todo: list) -> dict[str, Any]:
    """The manifest's record of this session, appended to its sessions (status ``running``)."""
    session: dict[str, Any] = {
        "started": now(),
        "finished": None,
        "resumed": bool(manifest["sessions"]),
        "backend": backend.describe(),
        "code": code,
        "verified": "sizes and sha256" if verify else "sizes",
        "runs_failed_verification": len(bad),
        "runs_to_do": len(todo),
        "runs_done": 0,
        "runs_failed": 0,
        "status": "running",
        "argv": sys.argv[:],
    }
    manifest["sessions"].append(session)
    manifest["status"] = "running"
    manifest["finished"] = None
    return session


@contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM (e.g. a SLURM time limit) into KeyboardInterrupt so the manifest is closed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
