"""The database record of an accepted upload (its bytes are already in the object store)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage import StoredObject
from studio.db.models import Account, Upload
from voice_model.audio import AudioInfo


def add_upload(
    db: Session,
    owner: Account,
    stored: StoredObject,
    info: AudioInfo,
    *,
    filename: str | None,
    content_type: str,
    now: datetime,
) -> Upload:
    """Add (not commit) the row describing ``stored`` as ``owner``'s upload; ``content_type``
    is what the audio decoded as, not what the client claimed."""
    row = Upload(
        owner_id=owner.id,
        sha256=stored.sha256,
        size_bytes=stored.size,
        filename=filename,
        content_type=content_type,
        format=info.format.lower(),
        sample_rate=info.sample_rate,
        channels=info.channels,
        frames=info.frames,
        duration_s=info.duration_s,
        created_at=now,
    )
    db.add(row)
    return row
