"""Object keys are sha256 digests; every entry point checks them before use."""

from __future__ import annotations

import re

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(value: object) -> str:
    """Return ``value`` if it is a sha256 in lowercase hex (64 characters); else ValueError.

    Keys become file paths and object names, so nothing else may pass.
    """
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        raise ValueError(f"not a lowercase hex sha256: {value!r:.80}")
    return value


def check_range(start: int, end: int | None, size: int) -> int:
    """Validate the byte range ``[start, end)`` of an object of ``size`` bytes; return ``end``.

    ``end=None`` means to the end of the object. Out-of-bounds ranges are an error rather than
    clamped, so a caller never silently serves fewer bytes than it asked for.
    """
    stop = size if end is None else end
    if not 0 <= start <= stop <= size:
        raise ValueError(f"bad byte range [{start}, {end}) for an object of {size} bytes")
    return stop
