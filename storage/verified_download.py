"""Write an object's chunks to a local file, checking them against the object's key."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from storage.errors import IntegrityError


def write_verified(chunks: Iterable[bytes], sha256: str, dest: Path) -> None:
    """Stream ``chunks`` into ``dest``; replace ``dest`` only if they hash to ``sha256``.

    The bytes go to a temporary file beside ``dest`` (same filesystem, so the final rename is
    atomic); on a mismatch or any error that file is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with open(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != sha256:
            raise IntegrityError(expected=sha256, actual=actual)
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
