"""Numba's on-disk cache follows an edit of a module whose compiled functions another module calls
(simulation/numba_cache.py): without the renewal, the caller's cache would serve the old code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

CALLER = textwrap.dedent('''
    from pathlib import Path
    from numba import njit
    from aimarket.simulation.numba_cache import renew_when_changed
    from callee import constant
    @njit(cache=True)
    def twice():
        return 2 * constant()
    {renew}
''')


def _run(folder) -> int:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"PYTHONPATH": str(folder)}
    out = subprocess.run([sys.executable, "-c", "import caller; print(caller.twice())"], cwd=folder, env=env,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.parametrize("renew", [True, False])
def test_an_edit_of_a_called_module_is_compiled_on_the_next_import(tmp_path, renew):
    line = 'renew_when_changed(globals(), __file__, Path(__file__).with_name("callee.py"))' if renew else ""
    (tmp_path / "caller.py").write_text(CALLER.format(renew=line))
    callee = tmp_path / "callee.py"
    callee.write_text("from numba import njit\n@njit(cache=True)\ndef constant():\n    return 1\n")
    assert _run(tmp_path) == 2
    assert _run(tmp_path) == 2  # from the cache
    callee.write_text("from numba import njit\n@njit(cache=True)\ndef constant():\n    return 21\n")
    # with the renewal the edit is compiled; without it numba serves the caller's stale copy (what it guards)
    assert _run(tmp_path) == (42 if renew else 2)


def test_the_digest_is_kept_in_numbas_cache_folder(tmp_path):
    """The digest goes beside the module's cache files (atomically); a second import with the same
    callee flushes nothing; NUMBA_CACHE_DIR moves both."""
    (tmp_path / "caller.py").write_text(CALLER.format(
        renew='print("renewed", renew_when_changed(globals(), __file__, Path(__file__).with_name("callee.py")))'))
    (tmp_path / "callee.py").write_text("from numba import njit\n@njit(cache=True)\ndef constant():\n    return 1\n")
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_CACHE_DIR": str(cache)}
    runs = [subprocess.run([sys.executable, "-c", "import caller; caller.twice()"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["renewed True", "renewed False"]
    stamps = list(cache.rglob("caller.numba-deps"))
    assert len(stamps) == 1 and not (tmp_path / "__pycache__" / "caller.numba-deps").exists()
    assert not [p for p in cache.rglob(".*") if p.is_file()]
