"""Time-limited URLs: local ones are HMAC-signed for the studio's route, S3 ones are presigned."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from storage import LocalObjectStore, S3ObjectStore
from storage.seaweed_server import SeaweedServer
from tests.services.seaweed import TEST_BASE_URL, TEST_URL_SECRET

DATA = b"a short vocal take"
KEY = hashlib.sha256(DATA).hexdigest()
OTHER = hashlib.sha256(b"another object").hexdigest()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path, url_secret=TEST_URL_SECRET, base_url=TEST_BASE_URL + "/")
    store.put(io.BytesIO(DATA))
    return store


@pytest.fixture
def s3_store(s3_server: SeaweedServer, s3_bucket: str) -> S3ObjectStore:
    store = S3ObjectStore(
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        bucket=s3_bucket,
    )
    store.put(io.BytesIO(DATA), content_type="audio/wav")
    return store


def parse_local(url: str) -> tuple[str, int, str, str | None]:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == TEST_BASE_URL
    prefix, sha256 = parts.path.rsplit("/", 1)
    assert prefix == "/v1/objects"
    query = {k: v[0] for k, v in parse_qs(parts.query, strict_parsing=True).items()}
    assert set(query) <= {"expires", "sig", "filename"}
    return sha256, int(query["expires"]), query["sig"], query.get("filename")


def test_local_url_verifies_for_exactly_what_was_signed(local_store: LocalObjectStore) -> None:
    before = time.time()
    url = local_store.signed_url(KEY, expires=timedelta(minutes=5), filename="take 1 (ü).wav")
    sha256, expires, sig, filename = parse_local(url)
    assert (sha256, filename) == (KEY, "take 1 (ü).wav")
    assert before + 299 <= expires <= time.time() + 301
    verify = local_store.verify_signed_url

    assert verify(sha256, expires, sig, filename)
    assert not verify(sha256, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1"), filename)
    assert not verify(sha256, expires, sig.upper(), filename)
    assert not verify(OTHER, expires, sig, filename)
    assert not verify(sha256, expires + 1, sig, filename)  # a later expiry is not signed
    assert not verify(sha256, expires, sig, "other.wav")
    assert not verify(sha256, expires, sig, None)
    assert not verify(sha256, expires, sig, filename, now=expires + 1)  # expired
    assert verify(sha256, expires, sig, filename, now=expires)  # valid through its last second
    assert not verify("../" + sha256, expires, sig, filename)  # malformed input: False, no raise
    assert not verify(sha256, expires, "ζ" * 64, filename)
    stranger = LocalObjectStore(
        local_store.root, url_secret=b"some-other-secret-0123456789", base_url=TEST_BASE_URL
    )
    assert not stranger.verify_signed_url(sha256, expires, sig, filename)


def test_local_url_without_filename(local_store: LocalObjectStore) -> None:
    sha256, expires, sig, filename = parse_local(
        local_store.signed_url(KEY, expires=timedelta(seconds=30))
    )
    assert filename is None
    assert local_store.verify_signed_url(sha256, expires, sig, None)
    assert not local_store.verify_signed_url(sha256, expires, sig, "")


@pytest.mark.parametrize("filename", ["", "a/b.wav", "..", "bad\nname.wav", "x" * 256])
def test_bad_filenames_and_expiries_are_refused(
    local_store: LocalObjectStore, s3_store: S3ObjectStore, filename: str
) -> None:
    for store in (local_store, s3_store):
        with pytest.raises(ValueError, match="filename"):
            store.signed_url(KEY, expires=timedelta(minutes=1), filename=filename)
        with pytest.raises(ValueError, match="expires"):
            store.signed_url(KEY, expires=timedelta(0))


def test_s3_presigned_url_serves_the_bytes(s3_store: S3ObjectStore) -> None:
    url = s3_store.signed_url(KEY, expires=timedelta(minutes=5), filename="take 1 (ü).wav")
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"take 1 (_).wav\"; filename*=UTF-8''take%201%20%28%C3%BC%29.wav"
    )
    assert response.headers["content-type"] == "audio/wav"
    ranged = httpx.get(url, headers={"Range": "bytes=2-6"})
    assert (ranged.status_code, ranged.content) == (206, DATA[2:7])


def test_s3_presigned_url_tampered_or_expired_is_refused(s3_store: S3ObjectStore) -> None:
    url = s3_store.signed_url(KEY, expires=timedelta(minutes=5))
    sig_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if url[sig_at] != "0" else "1"
    assert httpx.get(url[:sig_at] + flipped + url[sig_at + 1 :]).status_code == 403
    assert httpx.get(url.replace(KEY, OTHER)).status_code == 403
    assert httpx.get(url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")).status_code == 403

    # Expiry counts from X-Amz-Date, which has one-second resolution: a 1 s URL can be dead
    # before a busy machine fetches it, so give it 4 s and wait past them.
    short = s3_store.signed_url(KEY, expires=timedelta(seconds=4))
    assert httpx.get(short).status_code == 200
    time.sleep(5.1)
    assert httpx.get(short).status_code == 403
