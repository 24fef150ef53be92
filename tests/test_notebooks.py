"""Every notebook in notebooks/ executes without error, and is committed without outputs.

The question notebooks read the results root from ``AIMARKET_RESULTS``; the tests point it at the
quick sweeps the session fixture of tests/test_questions.py already ran, so the notebooks' sweeps
(``resume=True``) find complete folders and simulate nothing. The kernel is this interpreter
(``sys.executable -m ipykernel_launcher``), resolved programmatically: no kernel spec has to be
installed, so the tests run in a fresh ``make test`` virtual environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_questions import run_quick_questions

from aimarket.experiments.questions import get

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory) -> Path:
    return run_quick_questions(tmp_path_factory)


def _sessions(folder: Path) -> int:
    return len(json.loads((folder / "manifest.json").read_text())["sessions"])


def _kernel_manager():
    """An async kernel manager whose kernel is ``sys.executable -m ipykernel_launcher`` (whatever
    kernel specs the machine has)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisInterpreter(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (aimarket tests)",
                language="python",
                resource_dir=str(Path(__file__).parent),
            )

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())


def test_there_is_a_quickstart_and_one_notebook_per_question():
    from aimarket.experiments.questions import QUESTIONS

    names = {p.name for p in NOTEBOOKS}
    assert "00_quickstart.ipynb" in names
    assert {q.notebook for q in QUESTIONS.values()} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path, quick_results, monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("AIMARKET_RESULTS", str(quick_results))
    monkeypatch.setenv("AIMARKET_SIZE", "quick")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    own = [] if path.stem == "00_quickstart" else list(get(path.stem).experiments)
    before = {name: _sessions(quick_results / name) for name in own}

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=_kernel_manager(), timeout=300, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError naming the cell on any error

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.stem != "00_quickstart":
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert images, "a question notebook draws its figures"
    for name, sessions in before.items():  # the notebook resumed its sweeps, which were complete: no run
        manifest = json.loads((quick_results / name / "manifest.json").read_text())
        assert len(manifest["sessions"]) == sessions + 1
        assert manifest["sessions"][-1]["runs_to_do"] == 0 and manifest["status"] == "complete"
    assert nbformat.validate(nb) is None
