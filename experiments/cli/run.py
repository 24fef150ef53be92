"""``aimarket run``: run one scenario and write its outputs.

    aimarket run [SCENARIO] [--out DIR] [--seed N] [--steps N] [--set key=value ...] [--quiet]

Everything the user gave is validated before anything is simulated or written, so a bad input exits
with status 2 and one line, and leaves the output directory untouched. The output directory is checked
(creatable, writable) and locked before the simulation starts (a second run into it is refused); the
outputs are written into a hidden sibling ``.<DIR>.tmp-PID`` that replaces DIR only once every file is
written, so a failed or killed run leaves the previous outputs exactly as they were.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from aimarket.simulation.errors import UserInputError

#: Summary keys shown first (when present), in this order; any other scalar keys follow.
_HEADLINE = (
    "final_hhi",
    "mean_last_year_hhi",
    "final_n_labs",
    "agi_year",
    "agi_cost_ratio",
    "agi_cost_per_task",
    "parity_year",
    "peak_regulated_share",
    "seed",
    "version",
    "scenario_hash",
)
_HIDDEN = {"scenario", "models"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "run",
        help="run one scenario and write its outputs",
        description="Run one scenario and write timeseries.parquet, labs.parquet, summary.json and "
        "overview.png to the output directory.",
    )
    parser.add_argument(
        "scenario", nargs="?", default=None, metavar="SCENARIO",
        help="scenario TOML file (default: the packaged default scenario; see 'aimarket scenarios')",
    )
    parser.add_argument(
        "--out", metavar="DIR", default=None, help="output directory (default: runs/<scenario name>)"
    )
    parser.add_argument(
        "--seed", metavar="N", default=None, help="root seed (default: the scenario's run.seed)"
    )
    parser.add_argument("--steps", metavar="N", default=None, help="steps to simulate (default: run.steps)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a scenario value, e.g. --set users.count=5000 or --set labs.roster.OpenAI.cash=2e10 "
        "(repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    parser.set_defaults(func=run_command)
    return parser


def _integer(option: str, text: str | None, minimum: int) -> int | None:
    if text is None:
        return None
    what = "a positive integer" if minimum >= 1 else "a non-negative integer"
    try:
        value = int(str(text).strip().replace("_", ""))
    except ValueError:
        raise UserInputError(f"{option}: must be {what} (got {text!r})") from None
    if value < minimum:
        raise UserInputError(f"{option}: must be {what} (got {text!r})")
    return value


def _output_dir(out: str | None, scenario_path: Path | None) -> Path:
    if out is not None:
        if not str(out).strip():
            raise UserInputError("--out: must be a directory path (got '')")
        path = Path(out)
    else:
        path = Path("runs") / (scenario_path.stem if scenario_path is not None else "default")
    if path.exists() and not path.is_dir():
        raise UserInputError(f"--out '{path}': exists and is not a directory")
    return path


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "n/a"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary table: headline keys first, then any other key (the full scenario is omitted)."""
    keys = [k for k in _HEADLINE if k in summary]
    keys += [k for k in summary if k not in keys and k not in _HIDDEN]
    if not keys:
        return []
    width = max(len(k) for k in keys)
    return [f"  {k:<{width}}  {_fmt(summary[k])}" for k in keys]


def run_command(args: argparse.Namespace) -> int:
    from aimarket.simulation.scenario.loading import load_scenario
    from aimarket.simulation.scenario.overrides import parse_set_option

    # 1. validate everything the user gave (no simulation, no file written yet)
    steps = _integer("--steps", args.steps, 1)
    seed = _integer("--seed", args.seed, 0)
    scenario_path = Path(args.scenario) if args.scenario is not None else None
    overrides = [parse_set_option(option) for option in args.overrides]
    if steps is not None:
        overrides.append(("run.steps", steps))
    if seed is not None:
        overrides.append(("run.seed", seed))
    scenario = load_scenario(scenario_path, overrides)
    out_dir = _output_dir(args.out, scenario_path)

    # 2. lock the output folder, simulate (heavy imports only now, so that bad input fails fast), write
    from aimarket.experiments.sweeps.single_run import run_scenario

    n_steps = scenario.run.steps
    name = scenario_path.stem if scenario_path is not None else "default"
    show_bar = not args.quiet and sys.stderr.isatty()
    result, paths = run_scenario(scenario, out_dir, name, show_bar)

    # 3. report
    if not args.quiet:
        lines = summary_lines(dict(result.summary or {}))
        if lines:
            print(f"summary ({name}, seed {result.seed}, {n_steps} steps):")
            print("\n".join(lines))
    unconverged = (result.summary or {}).get("unconverged_steps") or []
    if unconverged:
        print(f"aimarket: warning: prices did not reach labs.br_tolerance = {scenario.labs.br_tolerance:g} at "
              f"{len(unconverged)} step(s): {', '.join(map(str, unconverged[:10]))}"
              f"{' ...' if len(unconverged) > 10 else ''} (nash_residual in timeseries.parquet)", file=sys.stderr)
    print(f"outputs in {out_dir}/:")
    for key, path in (paths or {}).items():
        print(f"  {key:<12} {path}")
    return 0
