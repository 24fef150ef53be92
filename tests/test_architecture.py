"""The layout shows the architecture (issue 17): a walk over the source of simulation/, agents/ and
experiments/ (their Python files, parsed, never imported) checks

- that imports run one way: cli -> questions -> analysis / sweeps / dashboard / calibration -> the model
  (aimarket.simulation, aimarket.agents), with the table ALLOWED below; the model never imports
  aimarket.experiments; the sweep engine never imports matplotlib nor analysis; analysis reads stores but
  never imports the runner or the session; the command line imports no matplotlib at module level;
  inside the model (MODEL_ALLOWED), the laws and kernels import nothing above them, the plain-Python
  references only each other and no model module computes with them;
- that no module is longer than MAX_MODULE_LINES and no function longer than MAX_FUNCTION_LINES.

Each test lists every violation at once, as ``file:line: what``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: repository folder -> the package it installs as (pyproject.toml [tool.setuptools.package-dir])
PACKAGES = {"simulation": "aimarket.simulation", "agents": "aimarket.agents", "experiments": "aimarket.experiments"}
MODEL = ("aimarket.simulation", "aimarket.agents", "aimarket.resources")
X = "aimarket.experiments"

#: experiments/<layer>/ -> the aimarket modules it may import (a name allows the module and its sub-modules)
ALLOWED = {
    "cli": (X, *MODEL),
    "questions": (f"{X}.questions", f"{X}.analysis", f"{X}.sweeps", *MODEL),
    "analysis": (f"{X}.analysis", f"{X}.sweeps", *MODEL),
    "sweeps": (f"{X}.sweeps", *MODEL),
    "dashboard": (f"{X}.dashboard", f"{X}.analysis.style", *MODEL),
    "calibration": (f"{X}.calibration", *MODEL),
    # experiments/__init__.py: the public API (aimarket.sweep, load, sensitivity)
    "": (f"{X}.sweeps.session", f"{X}.sweeps.store", f"{X}.analysis.sensitivity", *MODEL),
}
#: what a layer must not import even where ALLOWED would let it (a name forbids its sub-modules too)
FORBIDDEN = {
    "analysis": (f"{X}.sweeps.runner", f"{X}.sweeps.session", f"{X}.sweeps.session_record", f"{X}.sweeps.slurm",
                 f"{X}.sweeps.scheduler_connection"),
    "sweeps": ("matplotlib", f"{X}.analysis"),
}
#: single files with a wider table: ``python -m aimarket.experiments.questions`` is the command line
EXCEPTIONS = {"experiments/questions/__main__.py": (f"{X}.cli",)}

#: inside the model: package -> the aimarket modules it may import. The equations (laws, kernels) depend on
#: nothing above them, the plain-Python references only on each other, and scenarios only on their schema.
S = "aimarket.simulation"
MODEL_ALLOWED = {
    f"{S}.laws": (f"{S}.numba_cache",),
    f"{S}.kernels": (f"{S}.kernels", f"{S}.laws", f"{S}.numba_cache"),
    f"{S}.reference": (f"{S}.reference",),
    f"{S}.scenario": (f"{S}.scenario", f"{S}.errors", "aimarket.resources"),
}
#: the references are for the tests and benchmarks: no module of the model computes with them
REFERENCE = f"{S}.reference"

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _sources() -> list[tuple[str, str, ast.Module]]:
    """(repository path, installed module name, syntax tree) of every Python file."""
    out = []
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT).as_posix()
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((rel, ".".join([package, *parts]), ast.parse(path.read_text(encoding="utf-8"), rel)))
    return out


def _is_module(name: str) -> bool:
    for folder, package in PACKAGES.items():
        if name == package or name.startswith(package + "."):
            tail = name[len(package):].lstrip(".").split(".") if name != package else []
            base = ROOT.joinpath(folder, *tail)
            return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
    return False


def _imports(tree: ast.Module, module: str, is_package: bool):
    """(line, imported module, at module level) of every import, sub-modules resolved."""
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield node.lineno, target if _is_module(target) else base, id(node) in top_level


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layer(rel: str) -> str | None:
    """The experiments layer of a file (``""`` for experiments/__init__.py), None for the model."""
    parts = rel.split("/")
    if parts[0] != "experiments":
        return None
    return parts[1] if len(parts) > 2 else ""


def _import_violations() -> list[str]:
    problems = []
    for rel, module, tree in _sources():
        layer = _layer(rel)
        for line, name, at_top in _imports(tree, module, rel.endswith("__init__.py")):
            where = f"{rel}:{line}"
            if layer is None:
                problems += _model_violations(where, module, name)
                continue
            if _within(name, FORBIDDEN.get(layer, ())):
                problems.append(f"{where}: {layer or 'experiments'} must not import {name}")
            elif name.startswith("aimarket") and not _within(name, ALLOWED[layer] + EXCEPTIONS.get(rel, ())):
                problems.append(f"{where}: {layer or 'experiments'} imports {name} (allowed: {', '.join(ALLOWED[layer])})")
            if layer == "cli" and at_top and _within(name, ("matplotlib",)):
                problems.append(f"{where}: the command line imports matplotlib at module level")
    return problems


def _model_violations(where: str, module: str, name: str) -> list[str]:
    if _within(name, (X,)):
        return [f"{where}: the model imports {name}"]
    if _within(name, (REFERENCE,)) and not _within(module, (REFERENCE,)):
        return [f"{where}: {module} computes with the plain-Python reference {name}"]
    for package, allowed in MODEL_ALLOWED.items():
        if _within(module, (package,)) and name.startswith("aimarket") and not _within(name, allowed):
            return [f"{where}: {package} imports {name} (allowed: {', '.join(allowed)})"]
    return []


def _length_violations() -> list[str]:
    problems = []
    for rel, _module, tree in _sources():
        lines = len((ROOT / rel).read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{rel}:1: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{rel}:{node.lineno}: {node.name} has {length} lines (at most {MAX_FUNCTION_LINES})")
    return problems


def test_sources_are_found():
    names = {module for _rel, module, _tree in _sources()}
    assert {"aimarket.simulation.run", "aimarket.experiments.sweeps.session", "aimarket.experiments.cli"} <= names


def test_imports_run_one_way():
    problems = _import_violations()
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_no_long_modules_or_functions():
    problems = _length_violations()
    assert not problems, "too long:\n" + "\n".join(problems)


def test_the_walk_sees_a_forbidden_import():
    """The checks are not vacuous: a sweep module importing matplotlib and analysis is caught."""
    tree = ast.parse("import matplotlib\nfrom aimarket.experiments.analysis import plot\n")
    found = [(line, name) for line, name, _top in _imports(tree, "aimarket.experiments.sweeps.x", False)]
    assert found == [(1, "matplotlib"), (2, "aimarket.experiments.analysis.plot")]
    assert all(_within(name, FORBIDDEN["sweeps"]) for _line, name in found)


def test_the_walk_sees_a_kernel_importing_upwards():
    """A kernel importing the market (above it) or a model module using a reference is caught."""
    assert _model_violations("k:1", f"{S}.kernels.choice", f"{S}.market")
    assert _model_violations("m:1", f"{S}.market", f"{REFERENCE}.choice")
    assert not _model_violations("k:1", f"{S}.kernels.prices", f"{S}.kernels.single_offer")


def test_no_subpackage_shadows_the_public_api():
    """``aimarket.experiments.sweep`` (and load, sensitivity) is a function: a sub-package of that name
    would replace it on the package as soon as it is imported."""
    import aimarket.experiments as experiments

    public = set(experiments.__all__)
    clashes = sorted(p.name for p in (ROOT / "experiments").iterdir() if p.name.removesuffix(".py") in public)
    assert not clashes, f"experiments/: {clashes} shadow the public API {sorted(public)}"


def test_sweep_engine_and_command_line_load_without_matplotlib():
    """At run time too: importing the sweep engine (and the command line) loads no matplotlib."""
    import subprocess
    import sys

    code = ("import sys, aimarket.experiments.sweeps.session, aimarket.experiments.sweeps.store_check, "
            "aimarket.experiments.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
