"""Experiment files: schema, parsing and validation.

An experiment file is a TOML file that names a base scenario and says which scenario parameters
vary, how they are sampled, how many replications each design point gets and which outputs to keep::

    scenario = "../../scenarios/default.toml"   # relative to this experiment file
    root_seed = 20250601                        # one seed for the whole experiment
    replications = 2                            # runs per design point, each with its own seed
    steps = 8                                   # steps per run (default: the scenario's run.steps)
    outputs = ["timeseries", "summary"]         # tables kept per run ("labs" is the third)

    [report]                                    # optional: a section of `aimarket report` per output
    outputs = ["hhi", "final_n_labs"]           # (timeseries columns or summary entries)

    [slurm]                                     # optional: defaults of `aimarket sweep --slurm`
    jobs = 8                                    # (docs/cluster.md); not part of the sweep's identity

    [overrides]                                 # applied to the base scenario before any factor
    "users.count" = 2000

    [sampler]                                   # optional; default "grid" if every factor is a list,
    method = "lhs"                              # else "lhs"; also "sobol" and "morris"
    n = 64                                      # design points (lhs), base sample N (sobol),
                                                # trajectories (morris)

    [factors]                                   # dotted scenario keys
    "users.value_sigma" = [0.5, 1.0]            # a list: full factorial (method "grid")
    "demand.market_scale" = { low = 0.1, high = 10, log = true }   # a range: sampled

Factor and override keys are the dotted keys of ``aimarket run --set`` (e.g. ``users.value_sigma``,
``tasks.reasoning.alpha``, ``labs.roster.OpenAI.cash``). They may be quoted dotted keys or nested
TOML tables; both are flattened to dotted keys.

Every error is an :class:`~aimarket.simulation.errors.ExperimentError` whose message is one line naming the
field and what is allowed; the command line prints it and exits with status 2.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimarket.simulation.errors import ExperimentError, ScenarioError, UserInputError

#: tables a run can keep; ``summary`` is always kept (it is the record that a run finished).
OUTPUT_TABLES = ("timeseries", "labs", "summary")
METHODS = ("grid", "lhs", "sobol", "morris")

_TOP_KEYS = {
    "scenario",
    "root_seed",
    "replications",
    "steps",
    "outputs",
    "overrides",
    "sampler",
    "factors",
    "description",
    "report",
    "slurm",  # defaults of `aimarket sweep --slurm` (aimarket.experiments.slurm_options); not part of the identity
}
_RANGE_KEYS = {"low", "high", "log", "integer"}
_SAMPLER_KEYS = {
    "grid": {"method"},
    "lhs": {"method", "n", "scramble", "optimization"},
    "sobol": {"method", "n", "calc_second_order", "scramble"},
    "morris": {"method", "n", "levels", "optimal_trajectories", "local_optimization"},
}
_MAX_RUNS = 10_000_000


@dataclass(frozen=True)
class RangeFactor:
    """A continuous factor sampled between ``low`` and ``high`` (in log10 space when ``log``).

    ``integer`` rounds sampled values to the nearest integer (for integer scenario fields).
    """

    key: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds of the sampled (problem) space: log10 of the range when ``log``."""
        if self.log:
            return (math.log10(self.low), math.log10(self.high))
        return (self.low, self.high)

    def from_unit(self, u: float) -> float | int:
        """Map ``u`` in [0, 1] to a factor value."""
        lo, hi = self.bounds
        return self.from_problem(lo + u * (hi - lo))

    def from_problem(self, x: float) -> float | int:
        """Map a point of the sampled (problem) space to a factor value."""
        value = 10.0**x if self.log else float(x)
        value = min(max(value, self.low), self.high)
        return int(round(value)) if self.integer else value

    def to_problem(self, value: float) -> float:
        """Inverse of :meth:`from_problem` (used to rebuild SALib's sample matrix)."""
        return math.log10(value) if self.log else float(value)


@dataclass(frozen=True)
class ListFactor:
    """A factor taking each of ``values`` (full factorial design)."""

    key: str
    values: tuple


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file.

    path: the experiment file; scenario_path: the base scenario, resolved against ``path``'s folder.
    raw: the parsed TOML (as written); text: the file's text (kept in the manifest).
    """

    path: Path
    text: str
    raw: dict
    scenario_path: Path
    root_seed: int
    replications: int
    steps: int | None
    outputs: tuple[str, ...]
    overrides: dict[str, Any]
    method: str
    sampler: dict[str, Any]
    factors: tuple[RangeFactor | ListFactor, ...]
    description: str = ""
    extra: dict = field(default_factory=dict)
    #: outputs that ``aimarket report`` gives a section of their own (``[report] outputs = [...]``)
    report_outputs: tuple[str, ...] = ()

    @property
    def factor_keys(self) -> list[str]:
        return [f.key for f in self.factors]

    def fingerprint(self) -> str:
        """Hash of everything in the file that defines the runs (not comments, layout or the base
        scenario's path: the sweep identity adds the resolved base scenario's hash)."""
        payload = {
            "root_seed": self.root_seed,
            "replications": self.replications,
            "steps": self.steps,
            "outputs": list(self.outputs),
            "overrides": self.overrides,
            "method": self.method,
            "sampler": self.sampler,
            "factors": [f.__dict__ | {"type": type(f).__name__} for f in self.factors],
        }
        blob = json.dumps(payload, sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def flatten(table: dict, prefix: str = "", *, stop=None) -> dict[str, Any]:
    """Flatten nested TOML tables to dotted keys. ``stop(value)`` marks dicts kept as leaves."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not (stop and stop(value)):
            if not value:
                raise ExperimentError(f"{dotted}: empty table (give a value)")
            out.update(flatten(value, dotted + ".", stop=stop))
        else:
            out[dotted] = value
    return out


def _is_range(value: dict) -> bool:
    return "low" in value or "high" in value


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "list", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _int(
    raw: dict, key: str, default: int | None, *, low: int, high: int | None = None, where: str = ""
) -> int | None:
    value = raw.get(key, default)
    name = f"{where}{key}"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExperimentError(f"{name}: must be an integer (got {_type_name(value)} {value!r})")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise ExperimentError(f"{name}: must be {allowed} (got {value})")
    return value


def _bool(raw: dict, key: str, default: bool, where: str = "") -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ExperimentError(f"{where}{key}: must be true or false (got {_type_name(value)} {value!r})")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExperimentError(f"{name}: must be a finite number (got {_type_name(value)} {value!r})")
    return float(value)


def _parse_factor(key: str, value: Any) -> RangeFactor | ListFactor:
    name = f"factors.{key}"
    if isinstance(value, dict):
        unknown = sorted(set(value) - _RANGE_KEYS)
        if unknown:
            raise ExperimentError(f"{name}.{unknown[0]}: unknown key (allowed: low, high, log, integer)")
        for bound in ("low", "high"):
            if bound not in value:
                raise ExperimentError(f"{name}: a range needs both low and high (missing {bound})")
        low, high = _number(value["low"], f"{name}.low"), _number(value["high"], f"{name}.high")
        if not low < high:
            raise ExperimentError(f"{name}: empty range, low must be < high (got low={low:g}, high={high:g})")
        log = _bool(value, "log", False, f"{name}.")
        if log and low <= 0:
            raise ExperimentError(f"{name}.low: must be > 0 when log = true (got {low:g})")
        integer = _bool(value, "integer", False, f"{name}.")
        if integer and math.ceil(low) > math.floor(high):
            raise ExperimentError(f"{name}: integer range holds no integer (low={low:g}, high={high:g})")
        return RangeFactor(key, low, high, log, integer)
    if isinstance(value, list):
        if not value:
            raise ExperimentError(f"{name}: empty list of values (give at least one)")
        kinds = set()
        for v in value:
            if isinstance(v, bool):
                kinds.add("boolean")
            elif isinstance(v, int | float):
                if isinstance(v, float) and not math.isfinite(v):
                    raise ExperimentError(f"{name}: values must be finite (got {v!r})")
                kinds.add("number")
            elif isinstance(v, str):
                kinds.add("string")
            else:
                raise ExperimentError(
                    f"{name}: values must be numbers, strings or booleans (got {_type_name(v)} {v!r})"
                )
        if len(kinds) > 1:
            raise ExperimentError(f"{name}: values must all have one type (got {', '.join(sorted(kinds))})")
        if len(set(value)) != len(value):
            raise ExperimentError(f"{name}: duplicate values in {value!r}")
        if kinds == {"number"} and any(isinstance(v, float) for v in value):
            value = [float(v) for v in value]
        return ListFactor(key, tuple(value))
    raise ExperimentError(
        f"{name}: must be a list of values or a range {{low = ..., high = ...}} "
        f"(got {_type_name(value)} {value!r})"
    )


def parse_experiment(raw: dict, path: Path, text: str = "") -> Experiment:
    """Validate the parsed TOML ``raw`` of the experiment file at ``path`` (scenario keys are
    checked separately by :func:`aimarket.experiments.design.validate_against_scenario`)."""
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ExperimentError(f"{unknown[0]}: unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if "scenario" not in raw:
        raise ExperimentError("scenario: missing (the base scenario file, relative to the experiment file)")
    if not isinstance(raw["scenario"], str) or not raw["scenario"]:
        raise ExperimentError(f"scenario: must be a file path string (got {_type_name(raw['scenario'])})")
    scenario_path = (path.parent / raw["scenario"]).resolve()
    if not scenario_path.is_file():
        raise ExperimentError(f"scenario: file not found: {scenario_path}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ExperimentError(f"description: must be a string (got {_type_name(description)})")

    if "slurm" in raw:
        from aimarket.experiments.slurm_options import parse_section

        try:
            parse_section(raw["slurm"], "slurm")
        except UserInputError as exc:
            raise ExperimentError(str(exc)) from None
    root_seed = _int(raw, "root_seed", None, low=0, high=2**63 - 1)
    if root_seed is None:
        raise ExperimentError("root_seed: missing (one integer >= 0 that fixes every run's seed)")
    replications = _int(raw, "replications", 1, low=1, high=1_000_000)
    steps = _int(raw, "steps", None, low=1, high=100_000)

    outputs = raw.get("outputs", ["timeseries", "summary"])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ExperimentError(f"outputs: must be a list of names (allowed: {', '.join(OUTPUT_TABLES)})")
    for o in outputs:
        if o not in OUTPUT_TABLES:
            raise ExperimentError(f"outputs: unknown output '{o}' (allowed: {', '.join(OUTPUT_TABLES)})")
    outputs = tuple(o for o in OUTPUT_TABLES if o in outputs or o == "summary")

    overrides_raw = raw.get("overrides", {})
    if not isinstance(overrides_raw, dict):
        raise ExperimentError(
            f"overrides: must be a table of dotted scenario keys (got {_type_name(overrides_raw)})"
        )
    overrides = flatten(overrides_raw)

    factors_raw = raw.get("factors", {})
    if not isinstance(factors_raw, dict):
        raise ExperimentError(
            f"factors: must be a table of dotted scenario keys (got {_type_name(factors_raw)})"
        )
    try:
        flat = flatten(factors_raw, stop=_is_range)
    except ExperimentError as exc:
        raise ExperimentError(f"factors.{exc}") from None
    factors = tuple(_parse_factor(k, v) for k, v in flat.items())
    clash = sorted(set(overrides) & {f.key for f in factors})
    if clash:
        raise ExperimentError(f"factors.{clash[0]}: also set in [overrides] (set it in one place)")
    for f in factors:
        if f.key in ("run.seed", "run.steps"):
            raise ExperimentError(
                f"factors.{f.key}: not a factor (seeds come from root_seed, steps from the top-level 'steps')"
            )

    sampler_raw = raw.get("sampler", {})
    if not isinstance(sampler_raw, dict):
        raise ExperimentError(f"sampler: must be a table (got {_type_name(sampler_raw)})")
    has_range = any(isinstance(f, RangeFactor) for f in factors)
    method = sampler_raw.get("method", "lhs" if has_range else "grid")
    if method not in METHODS:
        raise ExperimentError(f"sampler.method: unknown method {method!r} (allowed: {', '.join(METHODS)})")
    unknown = sorted(set(sampler_raw) - _SAMPLER_KEYS[method])
    if unknown:
        allowed = ", ".join(sorted(_SAMPLER_KEYS[method]))
        raise ExperimentError(f"sampler.{unknown[0]}: unknown key for method '{method}' (allowed: {allowed})")
    sampler = _parse_sampler(method, sampler_raw, factors)
    _check_design_size(method, sampler, factors, replications)

    report_raw = raw.get("report", {})
    if not isinstance(report_raw, dict) or sorted(set(report_raw) - {"outputs"}):
        raise ExperimentError("report: must be a table with one key, outputs = [names of outputs]")
    report_outputs = report_raw.get("outputs", [])
    if not isinstance(report_outputs, list) or not all(isinstance(o, str) and o for o in report_outputs):
        raise ExperimentError("report.outputs: must be a list of output names (timeseries columns or summary "
                              "entries, e.g. [\"hhi\", \"final_n_labs\"])")

    exp = Experiment(
        path=path,
        text=text,
        raw=raw,
        scenario_path=scenario_path,
        root_seed=root_seed,
        replications=replications,
        steps=steps,
        outputs=outputs,
        overrides=overrides,
        method=method,
        sampler=sampler,
        factors=factors,
        description=description,
        report_outputs=tuple(report_outputs),
    )
    return exp


def design_points_count(method: str, sampler: dict[str, Any], factors: tuple) -> int:
    """How many design points the sampler makes, computed from the factor counts alone (nothing is
    built): grid the product of the list lengths; lhs n; sobol n (D + 2), or n (2D + 2) with
    second-order indices; morris (optimal_trajectories or n) (D + 1)."""
    d = len(factors)
    if method == "grid":
        return math.prod(len(f.values) for f in factors)
    n = sampler["n"]
    if method == "lhs":
        return n
    if method == "sobol":
        return n * (2 * d + 2 if sampler["calc_second_order"] else d + 2)
    return sampler.get("optimal_trajectories", n) * (d + 1)


def _check_design_size(method: str, sampler: dict[str, Any], factors: tuple, replications: int) -> None:
    points = design_points_count(method, sampler, factors)
    n_runs = points * replications
    if n_runs > _MAX_RUNS:
        raise ExperimentError(
            f"factors: the design has {n_runs:,} runs ({points:,} design points x {replications} replications; "
            f"at most {_MAX_RUNS:,}): use fewer factor values, a smaller sampler.n or fewer replications"
        )


def _parse_sampler(method: str, raw: dict, factors: tuple) -> dict[str, Any]:
    where = "sampler."
    if method == "grid":
        ranged = [f.key for f in factors if isinstance(f, RangeFactor)]
        if ranged:
            raise ExperimentError(f"factors.{ranged[0]}: method 'grid' needs a list of values, not a range")
        return {}
    listed = [f.key for f in factors if isinstance(f, ListFactor)]
    if listed:
        raise ExperimentError(
            f"factors.{listed[0]}: method '{method}' needs a range {{low = ..., high = ...}}, not a list"
        )
    if not factors:
        raise ExperimentError(f"factors: method '{method}' needs at least one factor range")
    if "n" not in raw:
        raise ExperimentError(f"sampler.n: missing (the number of samples for method '{method}')")
    n = _int(raw, "n", None, low=2 if method == "morris" else 1, high=_MAX_RUNS, where=where)
    if method == "lhs":
        opt = raw.get("optimization", None)
        if opt not in (None, "random-cd", "lloyd"):
            raise ExperimentError(f"sampler.optimization: must be 'random-cd' or 'lloyd' (got {opt!r})")
        out = {"n": n, "scramble": _bool(raw, "scramble", True, where)}
        if opt is not None:
            out["optimization"] = opt
        return out
    if method == "sobol":
        if n & (n - 1):
            raise ExperimentError(f"sampler.n: must be a power of 2 for method 'sobol' (got {n})")
        return {
            "n": n,
            "calc_second_order": _bool(raw, "calc_second_order", False, where),
            "scramble": _bool(raw, "scramble", True, where),
        }
    levels = _int(raw, "levels", 4, low=2, high=1000, where=where)
    out = {"n": n, "levels": levels, "local_optimization": _bool(raw, "local_optimization", True, where)}
    optimal = _int(raw, "optimal_trajectories", None, low=2, high=None, where=where)
    if optimal is not None:
        if optimal >= n:
            raise ExperimentError(f"sampler.optimal_trajectories: must be < n (got {optimal}, n = {n})")
        out["optimal_trajectories"] = optimal
    return out


def read_experiment(path: str | Path) -> Experiment:
    """Read and validate the experiment file at ``path`` (format checks only)."""
    path = Path(path).resolve()
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ExperimentError(f"{path}: experiment file not found") from None
    except IsADirectoryError:
        raise ExperimentError(f"{path}: is a folder, not an experiment file") from None
    except UnicodeDecodeError as exc:
        raise ExperimentError(
            f"{path.name}: not a text file (byte {exc.start} is not UTF-8; an experiment file is TOML text)"
        ) from None
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{path.name}: not valid TOML ({exc})") from None
    return parse_experiment(raw, path, text)


def scenario_error_line(exc: ScenarioError) -> str:
    """The first line of a scenario error (messages are meant to be one line already)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
