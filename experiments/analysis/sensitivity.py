"""Global sensitivity analysis of a finished Sobol or Morris sweep (SALib).

For each chosen output (a scalar entry of the runs' ``summary.json``; small dicts are addressed as
``key.sub``, e.g. ``agi_cost_ratio.reasoning``), the outputs of a design point's replications are
averaged, then:

- ``sobol`` (:func:`SALib.analyze.sobol.analyze`): first-order ``S1`` and total ``ST`` indices
  with their bootstrap confidence half-widths ``S1_conf``, ``ST_conf`` (share of output variance,
  0..1);
- ``morris`` (:func:`SALib.analyze.morris.analyze`): ``mu_star`` (mean absolute elementary effect,
  in output units per the factor's whole sampled range, low to high, as SALib scales it; for ``log``
  factors that range spans log10(high / low) decades),
  ``mu_star_conf`` and ``sigma``.

With ``minus`` (another sweep folder of the same experiment design: factors, sampler and seed, e.g. the
same design in another regime), the indices are those of the paired difference ``y(out) - y(minus)``
point by point: which factors change the gap between the two sweeps. Its files are named
``<method>_<output>_minus_<folder name>``. With ``drop_incomplete`` (Morris only), a trajectory in which
a run is not done (failed, e.g. a scenario the calibration cannot reach) is left out and the indices use
the others; ``df.attrs["dropped_trajectories"]`` lists them, and a warning says so.

Results go to ``DIR/sensitivity/<method>_<output>.csv`` and ``.png`` (bar chart) and are returned
as one pandas DataFrame (one row per output x factor). ``df.attrs["files"]`` lists the files written
and ``df.attrs["warnings"]`` the estimates that are unstable (:func:`stability_warnings`): a Sobol
index above 1, or a confidence interval wider than the index it brackets (too few samples).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from aimarket.experiments.sweeps import store
from aimarket.experiments.sweeps.factors import RangeFactor
from aimarket.simulation.errors import ExperimentError

COLUMNS = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"], "morris": ["mu_star", "mu_star_conf", "sigma", "mu"]}


def _factors(manifest: dict) -> list[RangeFactor]:
    return [
        RangeFactor(f["key"], f["low"], f["high"], f.get("log", False), f.get("integer", False))
        for f in manifest["experiment"]["factors"]
    ]


def _outputs_matrix(out: Path, run_ids: list[int], outputs: list[str]) -> np.ndarray:
    """Matrix (runs x outputs) of the chosen summary entries."""
    y = np.empty((len(run_ids), len(outputs)))
    for i, rid in enumerate(run_ids):
        flat = store._flatten_summary(store.read_summary(out, rid))
        for j, name in enumerate(outputs):
            if name not in flat:
                numeric = sorted(
                    k for k, v in flat.items() if isinstance(v, int | float) and not isinstance(v, bool)
                )
                raise ExperimentError(
                    f"--output {name}: not a summary output (numeric outputs: {', '.join(numeric)})"
                )
            value = flat[name]
            if value is None:
                value = math.nan
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ExperimentError(f"--output {name}: not a number (got {value!r} in run {rid})")
            y[i, j] = float(value)
    return y


def sensitivity(
    out: str | Path,
    outputs: list[str] | tuple[str, ...] | str,
    method: str | None = None,
    *,
    num_resamples: int = 100,
    conf_level: float = 0.95,
    plot: bool = True,
    minus: str | Path | None = None,
    drop_incomplete: bool = False,
):
    """Sensitivity indices of ``outputs`` in the sweep folder ``out`` (see the module docstring).

    method: ``"sobol"`` or ``"morris"``; default the sweep's sampler, which must match it.
    Returns a pandas DataFrame with columns output, factor and the method's indices.
    """
    import pandas as pd

    out = Path(out)
    manifest, outputs, method = _check_request(out, outputs, method)
    factors = _factors(manifest)
    problem = {
        "num_vars": len(factors),
        "names": [f.key for f in factors],
        "bounds": [list(f.bounds) for f in factors],
    }
    args = manifest["sampler"]["args"]
    design, dropped, suffix = _runs_to_analyse(out, manifest, method, len(factors), minus, drop_incomplete)
    run_ids = [int(r) for r in design["run_id"]]
    y_runs = _outputs_matrix(out, run_ids, outputs)
    if minus is not None:
        y_runs = y_runs - _outputs_matrix(Path(minus), run_ids, outputs)
    y, x = _point_means(design, y_runs, factors, len(outputs))

    frames = []
    for j, name in enumerate(outputs):
        yj = y[:, j]
        if not np.all(np.isfinite(yj)):
            bad = int(np.flatnonzero(~np.isfinite(yj))[0])
            raise ExperimentError(
                f"--output {name}: not finite at design point {bad} (null or NaN in summary.json)"
            )
        res = _analyze(method, problem, x, yj, args, manifest["sampler"]["seed"], num_resamples, conf_level)
        df = pd.DataFrame(
            {
                "output": name,
                "factor": problem["names"],
                **{c: np.asarray(res[c], dtype=float) for c in COLUMNS[method]},
            }
        )
        frames.append(df)
        _write_output(out, df, method, name, suffix, plot, minus)
    table = pd.concat(frames, ignore_index=True)
    _describe(table, out, method, outputs, suffix, plot, args, dropped)
    return table


def _check_request(out: Path, outputs, method: str | None) -> tuple[dict, list[str], str]:
    """The sweep's manifest, the outputs as a list and the method (checked against the sweep's sampler)."""
    manifest = store.read_manifest(out)
    if manifest is None:
        raise ExperimentError(f"{out}: not a sweep folder (no {store.MANIFEST})")
    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    if not outputs:
        raise ExperimentError("--output: give at least one summary output")
    sampled = manifest["sampler"]["method"]
    if method is None:
        if sampled not in COLUMNS:
            raise ExperimentError(
                f"{out}: the sweep used sampler '{sampled}'; sensitivity indices need "
                "sampler.method = 'sobol' or 'morris' in the experiment file"
            )
        method = sampled
    if method not in COLUMNS:
        raise ExperimentError(f"--method: must be sobol or morris (got {method!r})")
    if sampled != method:
        raise ExperimentError(
            f"--method {method}: the sweep in {out} used sampler '{sampled}'; "
            f"{method} indices need sampler.method = '{method}' in the experiment file"
        )
    return manifest, outputs, method


def _runs_to_analyse(out: Path, manifest: dict, method: str, n_factors: int, minus, drop_incomplete: bool):
    """The design rows to analyse (every run done, here and in ``minus``; for Morris with
    ``drop_incomplete``, the complete trajectories), the dropped trajectories and the files' suffix."""
    design = pq.read_table(out / store.DESIGN).to_pandas().sort_values("run_id")
    missing = {int(r) for r in design["run_id"]} - store.verified_runs(out)
    suffix = ""
    if minus is not None:
        missing |= _paired_missing(Path(minus), manifest, design)
        suffix = f"_minus_{Path(minus).name}"
    dropped: list[int] = []
    if missing:
        if not (drop_incomplete and method == "morris"):
            raise ExperimentError(
                f"{out}: {len(missing)} of {len(design)} runs are not done (e.g. run {min(missing)}"
                f"{' here or in --minus' if minus else ''}); sensitivity needs every run (resume the sweep, or fix "
                "failed runs" + ("; or, for Morris, leave out their trajectories with --drop-incomplete)"
                                 if method == "morris" else ")")
            )
        design, dropped = _complete_trajectories(design, missing, n_factors + 1)
    return design, dropped, suffix


def _point_means(design, y_runs: np.ndarray, factors, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """The outputs' mean over replications and the points in the problem space, in design-point order."""
    # mean over replications, in design-point order (points renumbered 0.. after dropped trajectories)
    points = np.unique(design["point"].to_numpy(), return_inverse=True)[1]
    n_points = int(points.max()) + 1
    y = np.zeros((n_points, n_outputs))
    counts = np.bincount(points, minlength=n_points)
    np.add.at(y, points, y_runs)
    y /= counts[:, None]
    first = design.drop_duplicates("point").sort_values("point")
    x = np.array(
        [
            [f.to_problem(float(v)) for f, v in zip(factors, row, strict=True)]
            for row in first[[f.key for f in factors]].itertuples(index=False)
        ]
    )
    return y, x


def _analyze(method: str, problem: dict, x, yj, args: dict, seed, num_resamples: int, conf_level: float):
    """SALib's Sobol or Morris indices of one output ``yj``."""
    if method == "sobol":
        from SALib.analyze import sobol

        return sobol.analyze(
            problem,
            yj,
            calc_second_order=args["calc_second_order"],
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=seed,
        )
    from SALib.analyze import morris

    return morris.analyze(
        problem,
        x,
        yj,
        num_resamples=num_resamples,
        conf_level=conf_level,
        num_levels=args["levels"],
        seed=seed,
    )


def _write_output(out: Path, df, method: str, name: str, suffix: str, plot: bool, minus) -> None:
    """``out/sensitivity/<method>_<output><suffix>.csv``, and its bar chart (``.png``) with ``plot``."""
    folder = out / "sensitivity"
    folder.mkdir(exist_ok=True)
    store.atomic_write(
        folder / f"{method}_{name}{suffix}.csv", df.to_csv(index=False, float_format="%.6g").encode()
    )
    if plot:
        _plot(df, method, name + (f" minus {Path(minus).name}" if minus else ""),
              folder / f"{method}_{name}{suffix}.png")


def _describe(table, out: Path, method: str, outputs: list[str], suffix: str, plot: bool, args: dict,
              dropped: list[int]) -> None:
    """The table's attrs: the files written, the stability warnings and the dropped trajectories."""
    folder = out / "sensitivity"
    table.attrs["files"] = [str(folder / f"{method}_{name}{suffix}.{ext}") for name in outputs
                            for ext in (("csv", "png") if plot else ("csv",))]
    table.attrs["warnings"] = stability_warnings(table, method, args.get("n"))
    table.attrs["dropped_trajectories"] = dropped
    if dropped:
        n = args.get("n")
        table.attrs["warnings"].insert(
            0, f"left out Morris trajectories {dropped} of {n} (a run in each is not done); the indices use "
               f"{n - len(dropped)}")


def _paired_missing(other: Path, manifest: dict, design) -> set[int]:
    """The runs not done in the sweep in ``other``, after checking that it has the design of the sweep
    described by ``manifest`` and ``design`` (same factors, sampler, seed and design points)."""
    theirs = store.read_manifest(other)
    if theirs is None:
        raise ExperimentError(f"--minus {other}: not a sweep folder (no {store.MANIFEST})")
    if theirs.get("sampler") != manifest.get("sampler"):
        raise ExperimentError(f"--minus {other}: its sampler differs; the difference needs one design")
    if theirs["experiment"]["factors"] != manifest["experiment"]["factors"]:
        raise ExperimentError(f"--minus {other}: its factors differ; the difference needs one design")
    their_design = pq.read_table(other / store.DESIGN).to_pandas().sort_values("run_id")
    keys = ["run_id", "point", *[f["key"] for f in manifest["experiment"]["factors"]]]
    if not their_design[keys].reset_index(drop=True).equals(design[keys].reset_index(drop=True)):
        raise ExperimentError(f"--minus {other}: its design points differ; the difference needs one design")
    return {int(r) for r in their_design["run_id"]} - store.verified_runs(other)


def _complete_trajectories(design, missing: set[int], length: int):
    """The design rows of the Morris trajectories (``length`` = factors + 1 consecutive points) in which
    every run is done, and the indices of the trajectories left out."""
    trajectory = design["point"].to_numpy() // length
    bad = sorted({int(t) for t, r in zip(trajectory, design["run_id"], strict=True) if int(r) in missing})
    kept = design[~np.isin(trajectory, bad)]
    if kept.empty:
        raise ExperimentError("every Morris trajectory has a run that is not done; resume the sweep")
    return kept, bad


#: (index, confidence half-width) pairs checked for stability, per method.
_CHECKED = {"sobol": (("S1", "S1_conf"), ("ST", "ST_conf")), "morris": (("mu_star", "mu_star_conf"),)}


def stability_warnings(table, method: str, n: int | None = None) -> list[str]:
    """One line per output whose estimates are unstable: a Sobol index above 1 (impossible for a share
    of variance, so sampling noise), or a confidence interval (2 x the half-width) wider than the index."""
    lines = []
    more = f" (sampler.n = {n}: increase it)" if n else " (increase sampler.n)"
    for output, d in table.groupby("output", sort=False):
        problems = []
        for index, conf in _CHECKED[method]:
            for _, r in d.iterrows():
                if method == "sobol" and r[index] > 1:
                    problems.append(f"{index} of {r['factor']} is {r[index]:.3g} > 1")
                elif 2 * r[conf] > abs(r[index]):
                    problems.append(f"{index} of {r['factor']} is {r[index]:.3g} with a confidence interval "
                                    f"{2 * r[conf]:.3g} wide")
        if problems:
            lines.append(f"{output}: unstable estimates{more}: {'; '.join(problems)}")
    return lines


def _plot(df, method: str, name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    factors = list(df["factor"])
    pos = np.arange(len(factors))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(factors) + 2), 3.5))
    if method == "sobol":
        w = 0.38
        ax.bar(pos - w / 2, df["S1"], w, yerr=df["S1_conf"], capsize=3, label="first order S1")
        ax.bar(pos + w / 2, df["ST"], w, yerr=df["ST_conf"], capsize=3, label="total ST")
        ax.set_ylabel("share of output variance")
        ax.axhline(0, color="black", linewidth=0.6)
    else:
        w = 0.38
        ax.bar(pos - w / 2, df["mu_star"], w, yerr=df["mu_star_conf"], capsize=3, label="mu* (mean |effect|)")
        ax.bar(pos + w / 2, df["sigma"], w, label="sigma (interactions, non-linearity)")
        ax.set_ylabel(f"effect on {name} per sampled range")
    ax.set_xticks(pos, factors, rotation=20, ha="right")
    ax.set_title(f"{method.capitalize()} sensitivity of {name}")
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def format_table(df) -> str:
    """The indices as a fixed-width text table."""
    return df.to_string(index=False, float_format=lambda v: f"{v:.4f}")
