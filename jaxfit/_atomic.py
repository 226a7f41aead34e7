"""`write_atomically`: a file appears whole under its name, or not at all.

The content goes to a temporary file in the same folder, is flushed to disk, and is
renamed over the final name (`os.replace`, atomic on POSIX and Windows), so a process
killed mid-write leaves the old file or the new one, never a torn one. Saved models,
search checkpoints and the CLI's results all write through here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Callable


def _new_file_mode(path: str) -> int:
    """The permissions `open(path, "w")` would give: mkstemp's own are owner-only."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        # Reading the umask means setting it; there is no other portable way.
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None], *,
                     exclusive: bool = False) -> None:
    """Call `write` on a binary file that then replaces `path` in one step.

    With `exclusive`, the file only appears if `path` does not exist yet, and
    `FileExistsError` is raised otherwise: of two processes creating the same file at
    once, exactly one wins (checking first and then renaming would let both "win").
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        if exclusive:
            _link_or_fail(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        # KeyboardInterrupt too: nothing half-written may be left behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if exclusive:
        # The content lives on under `path`, a second name of the same file (unless the
        # fallback renamed it there).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    if os.name == "posix":
        # Make the rename itself durable across a power loss, not only a crash.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _link_or_fail(tmp: str, path: str) -> None:
    """Give the whole file `tmp` the name `path` unless `path` exists (FileExistsError)."""
    try:
        os.link(tmp, path)  # atomic, and refuses an existing name
    except FileExistsError:
        raise
    except OSError:
        # A filesystem without hard links: the best left is to check, then rename.
        if os.path.exists(path):
            raise FileExistsError(path) from None
        os.replace(tmp, path)
