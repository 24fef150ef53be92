"""Keeping numba's on-disk cache true to the source when compiled functions call other modules' ones.

Numba's cache (``@njit(cache=True)``) of a function is keyed to the content of the file that defines
it. A kernel that calls a compiled function of another module holds a compiled copy of it, so after an
edit of the other module the cache would serve the old code. :func:`renew_when_changed`, called at the
end of a kernel module, records a SHA-256 digest of the modules it calls in numba's cache folder of
that module (``__pycache__``, or the mirror under ``NUMBA_CACHE_DIR``) as ``<module>.numba-deps``; when
the digest differs from the recorded one, it empties the cache index of every compiled function of the
module (``Cache.flush``), so that they are compiled again on first call. Where the cache folder cannot
be written, numba does not cache either, and nothing is done.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def kernel_sources(module_file: str | os.PathLike) -> list[Path]:
    """The files whose compiled functions a module of the kernels package may hold copies of: every
    module of its folder and the scalar laws (simulation/laws.py), in a fixed order."""
    folder = Path(module_file).parent
    return sorted(folder.glob("*.py")) + [folder.parent / "laws.py"]


def renew_when_changed(namespace: dict, module_file: str | os.PathLike, *called_modules: str | os.PathLike) -> bool:
    """Flush the cache of every cached numba dispatcher in ``namespace`` (a module's ``globals()``)
    when the content of ``called_modules`` changed since it was last recorded; returns whether it did."""
    own = namespace.get("__name__")
    caches = [c for obj in namespace.values()
              if getattr(getattr(obj, "py_func", None), "__module__", None) == own
              and (c := getattr(obj, "_cache", None)) is not None and hasattr(c, "flush")
              and getattr(c, "cache_path", None)]
    if not caches:
        return False
    digest = hashlib.sha256()
    for path in called_modules:
        digest.update(Path(path).read_bytes())
    stamp = Path(caches[0].cache_path) / f"{Path(module_file).stem}.numba-deps"
    try:
        if stamp.read_text() == digest.hexdigest():
            return False
    except OSError:
        pass
    try:
        for cache in caches:
            cache.flush()
        tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(digest.hexdigest())
        tmp.replace(stamp)
    except OSError:
        return False
    return True
