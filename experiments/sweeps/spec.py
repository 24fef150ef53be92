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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimarket.experiments.sweeps.factors import (
    ListFactor,
    RangeFactor,
    check_design_size,
    int_value,
    is_range,
    parse_factor,
    parse_sampler,
    type_name,
)
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
    "slurm",  # defaults of `aimarket sweep --slurm` (experiments.sweeps.slurm_options); not part of the identity
}
_SAMPLER_KEYS = {
    "grid": {"method"},
    "lhs": {"method", "n", "scramble", "optimization"},
    "sobol": {"method", "n", "calc_second_order", "scramble"},
    "morris": {"method", "n", "levels", "optimal_trajectories", "local_optimization"},
}
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


def parse_experiment(raw: dict, path: Path, text: str = "") -> Experiment:
    """Validate the parsed TOML ``raw`` of the experiment file at ``path`` (scenario keys are
    checked separately by :func:`aimarket.experiments.sweeps.design.validate_against_scenario`)."""
    scenario_path = _parse_scenario_path(raw, path)
    description = _parse_description(raw)
    _check_slurm_section(raw)
    root_seed = int_value(raw, "root_seed", None, low=0, high=2**63 - 1)
    if root_seed is None:
        raise ExperimentError("root_seed: missing (one integer >= 0 that fixes every run's seed)")
    replications = int_value(raw, "replications", 1, low=1, high=1_000_000)
    steps = int_value(raw, "steps", None, low=1, high=100_000)
    outputs = _parse_outputs(raw)
    overrides, factors = _parse_overrides_and_factors(raw)
    method, sampler = _parse_method(raw, factors, replications)
    report_outputs = _parse_report_outputs(raw)

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
        report_outputs=report_outputs,
    )
    return exp


def _parse_scenario_path(raw: dict, path: Path) -> Path:
    """The top-level keys are known and ``scenario`` names an existing file; that file, resolved."""
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ExperimentError(f"{unknown[0]}: unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if "scenario" not in raw:
        raise ExperimentError("scenario: missing (the base scenario file, relative to the experiment file)")
    if not isinstance(raw["scenario"], str) or not raw["scenario"]:
        raise ExperimentError(f"scenario: must be a file path string (got {type_name(raw['scenario'])})")
    scenario_path = (path.parent / raw["scenario"]).resolve()
    if not scenario_path.is_file():
        raise ExperimentError(f"scenario: file not found: {scenario_path}")
    return scenario_path


def _parse_description(raw: dict) -> str:
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ExperimentError(f"description: must be a string (got {type_name(description)})")
    return description


def _check_slurm_section(raw: dict) -> None:
    """The ``[slurm]`` defaults are valid (they are not part of the experiment's identity)."""
    if "slurm" in raw:
        from aimarket.experiments.sweeps.slurm_options import parse_section

        try:
            parse_section(raw["slurm"], "slurm")
        except UserInputError as exc:
            raise ExperimentError(str(exc)) from None


def _parse_outputs(raw: dict) -> tuple[str, ...]:
    """The tables each run keeps, in :data:`OUTPUT_TABLES` order; ``summary`` always."""
    outputs = raw.get("outputs", ["timeseries", "summary"])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ExperimentError(f"outputs: must be a list of names (allowed: {', '.join(OUTPUT_TABLES)})")
    for o in outputs:
        if o not in OUTPUT_TABLES:
            raise ExperimentError(f"outputs: unknown output '{o}' (allowed: {', '.join(OUTPUT_TABLES)})")
    return tuple(o for o in OUTPUT_TABLES if o in outputs or o == "summary")


def _parse_overrides_and_factors(raw: dict) -> tuple[dict[str, Any], tuple[RangeFactor | ListFactor, ...]]:
    """``[overrides]`` and ``[factors]`` as dotted keys; no key in both, no factor of the seed or steps."""
    overrides_raw = raw.get("overrides", {})
    if not isinstance(overrides_raw, dict):
        raise ExperimentError(
            f"overrides: must be a table of dotted scenario keys (got {type_name(overrides_raw)})"
        )
    overrides = flatten(overrides_raw)

    factors_raw = raw.get("factors", {})
    if not isinstance(factors_raw, dict):
        raise ExperimentError(
            f"factors: must be a table of dotted scenario keys (got {type_name(factors_raw)})"
        )
    try:
        flat = flatten(factors_raw, stop=is_range)
    except ExperimentError as exc:
        raise ExperimentError(f"factors.{exc}") from None
    factors = tuple(parse_factor(k, v) for k, v in flat.items())
    clash = sorted(set(overrides) & {f.key for f in factors})
    if clash:
        raise ExperimentError(f"factors.{clash[0]}: also set in [overrides] (set it in one place)")
    for f in factors:
        if f.key in ("run.seed", "run.steps"):
            raise ExperimentError(
                f"factors.{f.key}: not a factor (seeds come from root_seed, steps from the top-level 'steps')"
            )
    return overrides, factors


def _parse_method(raw: dict, factors: tuple, replications: int) -> tuple[str, dict[str, Any]]:
    """The ``[sampler]`` method and its options; the design is not too large."""
    sampler_raw = raw.get("sampler", {})
    if not isinstance(sampler_raw, dict):
        raise ExperimentError(f"sampler: must be a table (got {type_name(sampler_raw)})")
    has_range = any(isinstance(f, RangeFactor) for f in factors)
    method = sampler_raw.get("method", "lhs" if has_range else "grid")
    if method not in METHODS:
        raise ExperimentError(f"sampler.method: unknown method {method!r} (allowed: {', '.join(METHODS)})")
    unknown = sorted(set(sampler_raw) - _SAMPLER_KEYS[method])
    if unknown:
        allowed = ", ".join(sorted(_SAMPLER_KEYS[method]))
        raise ExperimentError(f"sampler.{unknown[0]}: unknown key for method '{method}' (allowed: {allowed})")
    sampler = parse_sampler(method, sampler_raw, factors)
    check_design_size(method, sampler, factors, replications)
    return method, sampler


def _parse_report_outputs(raw: dict) -> tuple[str, ...]:
    """``[report] outputs``: the outputs ``aimarket report`` gives a section of their own."""
    report_raw = raw.get("report", {})
    if not isinstance(report_raw, dict) or sorted(set(report_raw) - {"outputs"}):
        raise ExperimentError("report: must be a table with one key, outputs = [names of outputs]")
    report_outputs = report_raw.get("outputs", [])
    if not isinstance(report_outputs, list) or not all(isinstance(o, str) and o for o in report_outputs):
        raise ExperimentError("report.outputs: must be a list of output names (timeseries columns or summary "
                              "entries, e.g. [\"hhi\", \"final_n_labs\"])")
    return tuple(report_outputs)


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
