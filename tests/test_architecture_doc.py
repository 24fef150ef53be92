"""docs/ARCHITECTURE.md maps every numbered equation of docs/ODD.md to code that exists: the table has a row
for every label ``(L1)``, ``(M16)``... of the ODD, every Function and Reference cell names an importable
``module:attribute.path``, and every Test cell names a test function (``file::test`` or ``file::Class::test``)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL = re.compile(r"\(([A-Z][0-9]+[a-z]?)\)")
NAME = re.compile(r"`([^`]+)`")


def odd_labels(text: str) -> set[str]:
    return set(LABEL.findall(text))


def table_rows(text: str) -> dict[str, dict[str, list[str]]]:
    """Equation label -> {column: backticked names} of the equation table."""
    lines = [line for line in text.splitlines() if line.startswith("| Equation |")]
    start = text.splitlines().index(lines[0])
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in text.splitlines()[start + 2:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (c.strip() for c in line.strip().strip("|").split("|")), strict=True))
        label = LABEL.fullmatch(cells["Equation"])
        rows[label.group(1) if label else cells["Equation"]] = {k: NAME.findall(v) for k, v in cells.items()}
    return rows


def missing_objects(names: list[str]) -> list[str]:
    """The ``module:attr.path`` names that do not import."""
    bad = []
    for name in names:
        module, _, path = name.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in path.split(".") if path else ():
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            bad.append(name)
    return bad


def _test_names(file: Path) -> set[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{f.name}" for f in node.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
    return {n for n in names if n.split("::")[-1].startswith("test")}


def missing_tests(names: list[str]) -> list[str]:
    """The ``tests/file.py::test`` names that are not a test function of that file."""
    bad = []
    for name in names:
        file, _, test = name.partition("::")
        path = ROOT / file
        if not (file.startswith("tests/") and path.is_file() and test in _test_names(path)):
            bad.append(name)
    return bad


def _doc() -> dict[str, dict[str, list[str]]]:
    return table_rows((ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8"))


def test_every_odd_equation_has_a_row():
    rows = _doc()
    missing = odd_labels((ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")) - set(rows)
    assert not missing, f"equations of docs/ODD.md with no row in docs/ARCHITECTURE.md: {sorted(missing)}"
    assert all(row["Function"] and row["Test"] for row in rows.values()), "every row names a function and a test"


def test_functions_and_references_exist():
    names = [n for row in _doc().values() for n in row["Function"] + row["Reference"]]
    assert not missing_objects(names)


def test_tests_exist():
    assert not missing_tests([n for row in _doc().values() for n in row["Test"]])


def test_the_checks_report_made_up_names():
    doc = "| Equation | Function | Test |\n|---|---|---|\n| (L1) | `a:b` | `c` |\n"
    assert set(table_rows(doc)) == {"L1"} and odd_labels("(L1) and (Z9b), not (l2)") - set(table_rows(doc)) == {"Z9b"}
    assert missing_objects(["aimarket.simulation.laws:success_probability", "aimarket.simulation.laws:no_such_law",
                            "aimarket.simulation.market:TaskMarket.no_such_method", "aimarket.no_such_module"]) == [
        "aimarket.simulation.laws:no_such_law", "aimarket.simulation.market:TaskMarket.no_such_method",
        "aimarket.no_such_module"]
    assert missing_tests(["tests/test_model.py::test_ord_arithmetic", "tests/test_model.py::test_no_such_test",
                          "tests/no_such_file.py::test_x"]) == ["tests/test_model.py::test_no_such_test",
                                                               "tests/no_such_file.py::test_x"]
