"""File content as plain files, so that it is served in chunks and byte ranges without reading it into memory.

Each git blob is materialised once, by streaming ``git cat-file blob`` into a file, under ``ROOT/.cache/blobs``
(content-addressed by the git blob id, shared by every repository and type); uploaded content lands there directly.
The cache only ever holds copies of what git holds: deleting ``ROOT/.cache`` while the server is stopped is safe.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import StoreError

CHUNK_SIZE = 256 * 1024
_LOCKS = 64


class BlobCache:
    def __init__(self, root: str | os.PathLike):
        root = Path(root).resolve()
        self.dir = root / ".cache" / "blobs"
        self.tmp = root / ".cache" / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        # A fixed pool of locks (picked by blob id) so two requests never materialise the same blob at once.
        self._locks = [threading.Lock() for _ in range(_LOCKS)]

    def path(self, oid: str) -> Path:
        return self.dir / oid[:2] / oid[2:]

    def temp_file(self) -> tuple[BinaryIO, Path]:
        """An open, empty file on the cache's file system (uploads are written there, then adopted)."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        return os.fdopen(fd, "wb"), Path(name)

    def open(self, oid: str, size: int, fill: Callable[[BinaryIO], None]) -> BinaryIO:
        """The blob's bytes as a seekable file; on a miss ``fill(out)`` writes them (once, under a lock)."""
        handle = self._open_complete(oid, size)
        if handle is not None:
            return handle
        with self._locks[int(oid[:8], 16) % _LOCKS]:
            handle = self._open_complete(oid, size)
            if handle is not None:
                return handle
            out, temp = self.temp_file()
            try:
                with out:
                    fill(out)
                if temp.stat().st_size != size:
                    raise StoreError(500, f"Blob {oid} has {temp.stat().st_size} bytes, expected {size}.")
                self.adopt(temp, oid)
            finally:
                temp.unlink(missing_ok=True)
        return open(self.path(oid), "rb")  # noqa: SIM115 - the caller closes it

    def adopt(self, path: Path, oid: str) -> None:
        """Move a file holding blob ``oid`` into the cache (atomically; an existing copy wins)."""
        target = self.path(oid)
        if target.exists():
            path.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)

    def _open_complete(self, oid: str, size: int) -> BinaryIO | None:
        try:
            handle = open(self.path(oid), "rb")  # noqa: SIM115 - returned open
        except FileNotFoundError:
            return None
        if os.fstat(handle.fileno()).st_size == size:
            return handle
        handle.close()
        return None


def copy_range(source: BinaryIO, start: int, length: int, write: Callable[[bytes], object]) -> None:
    """Send ``length`` bytes of ``source`` from ``start`` in chunks of CHUNK_SIZE (never the whole file at once)."""
    source.seek(start)
    left = length
    while left > 0:
        chunk = source.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise StoreError(500, "Blob file is shorter than its recorded size.")
        write(chunk)
        left -= len(chunk)
