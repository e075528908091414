"""The ``Content-Disposition`` value that offers an object as a download under a chosen name."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_FILENAME_LENGTH = 255


def check_filename(filename: str) -> str:
    """Return ``filename`` if it is a plain file name; else ValueError.

    Refused: empty, longer than 255 characters, path separators, control characters, or the
    names ``.`` and ``..`` -- it ends up in a header and in the user's file system.
    """
    if not filename or len(filename) > MAX_FILENAME_LENGTH or filename in {".", ".."}:
        raise ValueError(f"bad download filename: {filename!r:.80}")
    if any(c in "/\\" or unicodedata.category(c).startswith("C") for c in filename):
        raise ValueError(f"bad download filename: {filename!r:.80}")
    return filename


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 6266 / RFC 5987."""
    check_filename(filename)
    fallback = "".join(c if c.isascii() and c not in '"%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
