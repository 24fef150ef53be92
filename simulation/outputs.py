"""Output tables and files of a run: ``timeseries.parquet``, ``labs.parquet``, ``decisions.parquet``, ``summary.json``,
``overview.png`` (schema documented in docs/outputs.md).

Every file is written to a temporary name in the destination folder and renamed into place, so a
run killed part-way never leaves a half-written file under its final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from aimarket.simulation.errors import EnvironmentFault, SimulationError
from aimarket.simulation.scenario.schema import Scenario

_INT_COLUMNS = {"step", "n_labs", "arrivals", "entries", "exits", "evading_labs", "lab", "tier", "br_rounds"}
_BOOL_COLUMNS = {"agi_reached", "alive", "open_weights", "regulated", "training", "affordable", "chosen"}
_STRING_COLUMNS = {"name", "task", "model_name", "variant", "decision", "basis"}


def _column_type(name: str) -> pa.DataType:
    if name in _INT_COLUMNS:
        return pa.int64()
    if name in _BOOL_COLUMNS:
        return pa.bool_()
    if name in _STRING_COLUMNS:
        return pa.string()
    return pa.float64()


def _first_non_finite(rows: list[dict], table: str) -> tuple[int, str] | None:
    for row in rows:
        for name, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                who = f"lab '{row['name']}'" if "name" in row else "the market (all labs)"
                return int(row.get("step", -1)), (
                    f"step {row.get('step')}, {who}: {table} field '{name}' is {value} (not finite); an input is "
                    "outside the range the model can represent (check very large or very small values)"
                )
    return None


def check_finite(timeseries_rows: list[dict], labs_rows: list[dict]) -> None:
    """Raise :class:`SimulationError` naming the step, lab and field of the earliest value that is
    infinite or NaN (the model's inputs drove a quantity out of floating-point range); at that step a
    lab's row is named before the market's."""
    found = [f for f in (_first_non_finite(labs_rows, "labs"), _first_non_finite(timeseries_rows, "timeseries")) if f]
    if found:
        raise SimulationError(min(found, key=lambda f: f[0])[1])


def _table(rows: list[dict], columns: list[str]) -> pa.Table:
    schema = pa.schema([(c, _column_type(c)) for c in columns])
    return pa.table({c: pa.array([row.get(c) for row in rows], type=schema.field(c).type) for c in columns},
                    schema=schema)


def timeseries_columns(scenario: Scenario) -> list[str]:
    per_task = ["frontier_eoom", "price", "k", "tier_price_ratio", "price_fixed_capability", "outside_share",
                "selfhost_share", "human_level_cost", "human_level_share"]
    columns = ["step", "year", "n_labs", "arrivals", "entries", "exits", "entry_best_rejected_value", "hhi", "cr4",
               "br_rounds", "nash_residual", "frontier_eoom", "frontier_training_flop"]
    columns += [f"{stem}_{t}" for stem in per_task for t in scenario.task_names]
    columns += ["revenue", "lerner", "training_spend", "inference_spend", "inference_share", "consumer_surplus",
                "consumer_surplus_with_brand", "profit", "open_gap_eoom", "open_gap_compute", "regulated_share",
                "evading_labs", "max_site_power_mw", "inference_energy_mwh", "frontier_copies", "agi_reached"]
    return columns


LABS_COLUMNS = [
    "step", "lab", "name", "alive", "cash", "training_flop", "eoom_pre", "open_weights", "regulated", "task",
    "tier", "variant", "k", "eoom", "price", "marginal_cost", "share", "quantity", "revenue", "profit", "brand",
    "model_name", "training", "lab_revenue", "lab_inference_cost", "lab_opex", "lab_training_spend",
    "lab_compliance", "lab_financing", "lab_entry_cost", "lab_profit",
]

DECISIONS_COLUMNS = [
    "step", "decision", "lab", "name", "basis", "multiple", "ida_multiple", "raw_flop", "ida_flop", "eoom_pre",
    "present_value", "cost", "compliance", "value", "affordable", "chosen",
]


def timeseries_table(rows: list[dict], scenario: Scenario) -> pa.Table:
    return _table(rows, timeseries_columns(scenario))


def labs_table(rows: list[dict]) -> pa.Table:
    return _table(rows, LABS_COLUMNS)


def decisions_table(rows: list[dict]) -> pa.Table:
    return _table(rows, DECISIONS_COLUMNS)


def current_umask() -> int:
    """The process's file-mode creation mask (e.g. ``0o022``), read without changing it where the
    system tells it (Linux ``/proc/self/status``); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> Path:
    """Call ``write(temporary_path)`` and rename the result to ``path``. The temporary file is
    ``.<name>.<random>.tmp`` in the same folder; before the rename it gets the mode an ordinary new
    file would have (``0o666`` less the umask: ``0o644`` with umask 022), not mkstemp's private
    ``0o600``. An OSError (a full disk, a folder that cannot be written) becomes an
    :class:`EnvironmentFault` naming ``path`` and the system's reason."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise EnvironmentFault(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_parquet(table: pa.Table, path: Path) -> Path:
    """Byte-deterministic Parquet: the same table always gives the same file."""
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number {value} in summary")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_json(data: dict, path: Path) -> Path:
    text = json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


#: The files :func:`write_outputs` writes into a run's folder.
RUN_FILES = ("timeseries.parquet", "labs.parquet", "decisions.parquet", "summary.json", "overview.png")


def write_outputs(result, out_dir, *, plot: bool = True) -> dict[str, Path]:
    """Write a run's files into ``out_dir``; return their paths by name."""
    out = Path(out_dir)
    paths = {
        "timeseries": write_parquet(result.timeseries, out / "timeseries.parquet"),
        "labs": write_parquet(result.labs, out / "labs.parquet"),
        "summary": write_json(result.summary, out / "summary.json"),
    }
    if result.decisions is not None:
        paths["decisions"] = write_parquet(result.decisions, out / "decisions.parquet")
    if plot:
        from aimarket.simulation.overview import draw_overview

        paths["overview"] = atomic_write(out / "overview.png", lambda tmp: draw_overview(result, tmp))
    return paths
