"""Output folders that are checked before any work, locked while written and replaced whole.

- :func:`ensure_writable_folder`: create a folder (and its parents) and prove it is writable by writing
  and deleting a probe file, so that an unwritable ``--out`` is refused before anything is simulated.
- :class:`FileLock`: an exclusive ``flock`` on a lock file; a second writer is refused at once (the
  operating system releases the lock when its holder dies, SIGKILL included).
- :func:`staged_folder`: write a folder's new contents into a hidden temporary sibling
  ``.<name>.tmp-PID`` and swap it into place only when everything succeeded, so a failed or killed
  run never leaves a mix of old and new files and the previous contents stay intact until then.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aimarket.simulation.errors import EnvironmentFault, UserInputError


def ensure_writable_folder(folder: Path, option: str = "--out", target: Path | None = None) -> Path:
    """Create ``folder`` if needed and check that files can be written in it (one-line
    :class:`UserInputError`, exit status 2, naming the folder and the reason). ``target``: the path
    the user gave, when ``folder`` is its parent (named first in the message)."""
    folder = Path(folder)
    head = f"{option} {folder}" if target is None else f"{option} {target}: its folder {folder}"
    if folder.exists() and not folder.is_dir():
        raise UserInputError(f"{head}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != folder else ""
        raise UserInputError(f"{head}: cannot be created or written: {reason}{where}") from None
    return folder


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path`` holding the holder's pid. ``busy`` is the
    message of the ``error`` (default :class:`UserInputError`) raised when another process holds it.
    With ``remove`` the lock file is deleted on release (a new holder checks that the file it locked
    is still the one at ``path``), so nothing is left next to the output. On file systems without
    ``flock`` the lock is skipped."""

    def __init__(self, path: Path, busy: str, error: type[Exception] = UserInputError, remove: bool = False):
        self.path = Path(path)
        self.busy = busy
        self.error = error
        self.remove = remove
        self.fh = None

    def __enter__(self) -> FileLock:
        import fcntl

        while True:
            try:
                self.fh = open(self.path, "a+")
            except OSError as exc:
                raise EnvironmentFault(f"cannot create the lock file {self.path}: {exc.strerror}") from None
            try:
                fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.fh.seek(0)
                holder = self.fh.read().strip() or "?"
                self.fh.close()
                raise self.error(self.busy.format(pid=holder)) from None
            except OSError:
                self.remove = False
                return self  # no flock on this file system
            try:
                same = os.stat(self.path).st_ino == os.fstat(self.fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            self.fh.close()  # the previous holder deleted the file we locked: lock the new one
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None and not self.fh.closed:
            if self.remove:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            self.fh.close()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _recover(final: Path) -> None:
    """Undo what a killed swap left: restore ``.<name>.old-*`` when the folder is missing, delete
    temporary siblings. Called under the lock, so none of them belongs to a live writer."""
    parent, name = final.parent, final.name
    olds = sorted(parent.glob(f".{name}.old-*"))
    if olds and not final.exists():
        os.rename(olds.pop(), final)
    for stale in [*olds, *parent.glob(f".{name}.tmp-*")]:
        _remove(stale)


def _carry_over(old: Path, new: Path, replaced: set[str] | None) -> None:
    """Hard-link (or copy) the entries of ``old`` into ``new``, except those in ``replaced`` (all
    entries are carried over when ``replaced`` is None)."""
    for entry in os.scandir(old):
        if replaced is not None and entry.name in replaced:
            continue
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            continue
        src, dst = Path(entry.path), new / entry.name
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(src, dst)


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


@contextmanager
def staged_folder(final: Path, replaced: Iterable[str] | None = None, option: str = "--out") -> Iterator[Path]:
    """Yield a temporary sibling of ``final`` to write into; on success, swap it into place.

    The temporary folder starts with the entries of the existing ``final`` except the names in
    ``replaced`` (every entry is carried over when ``replaced`` is None: a partial redraw keeps the
    rest). A second writer of the same folder is refused while the first holds the lock. On any
    error (or a kill) ``final`` is left exactly as it was.
    """
    final = Path(final).absolute()
    if final.exists() and not final.is_dir():
        raise UserInputError(f"{option} {final}: exists and is not a folder")
    parent = ensure_writable_folder(final.parent, option, target=final)
    busy = f"{option} {final}: another process (pid {{pid}}) is writing this folder"
    with FileLock(parent / f".{final.name}.lock", busy, remove=True):
        _recover(final)
        tmp = parent / f".{final.name}.tmp-{os.getpid()}"
        try:
            tmp.mkdir()
            if final.is_dir():
                _carry_over(final, tmp, None if replaced is None else set(replaced))
            yield tmp
            _swap(tmp, final)
        except OSError as exc:
            name = str(exc.filename or final).replace(str(tmp), str(final))
            raise EnvironmentFault(f"cannot write {name}: {exc.strerror or exc} ({final} is unchanged)") from exc
        except EnvironmentFault as exc:  # name the file by its final path, not the temporary one
            raise EnvironmentFault(f"{str(exc).replace(str(tmp), str(final))} ({final} is unchanged)") from exc
        finally:
            _remove(tmp)


def _swap(tmp: Path, final: Path) -> None:
    """Put ``tmp`` in the place of ``final`` (two renames; a kill in between is undone by _recover)."""
    if not final.exists():
        os.rename(tmp, final)
        return
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError:
        os.rename(old, final)
        raise
    _remove(old)


__all__ = ["FileLock", "ensure_writable_folder", "staged_folder"]
