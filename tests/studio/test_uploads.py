"""Uploads: accepted formats, dedup, every rejection (storing nothing), signed URLs, and an
interrupted upload leaving nothing visible — on both storage backends."""

from __future__ import annotations

import hashlib
import select as io_select
import socket
import time
from collections.abc import Iterator

import httpx
import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from studio.db.models import Account, Upload
from studio.services import Services
from tests.studio.audio_files import encode, tone, wav
from tests.studio.conftest import scratch_files
from tests.studio.live import live_server as serve
from tests.studio.wallets import Wallet, sign_in


@pytest.fixture
def fan(client: TestClient) -> dict[str, str]:
    return sign_in(client, Wallet.new(), roles=("fan",))


def _upload(
    client: TestClient, headers: dict[str, str], data: bytes, name: str = "voice.wav"
) -> httpx2.Response:
    return client.post("/v1/uploads", files={"file": (name, data, "audio/wav")}, headers=headers)


def _uploads_of(services: Services, headers: dict[str, str], client: TestClient) -> int:
    address = client.get("/v1/me", headers=headers).json()["address"]
    with services.db() as db:
        return int(
            db.scalar(select(func.count(Upload.id)).join(Account).where(Account.address == address))
            or 0
        )


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext"),
    [
        ("WAV", "PCM_16", "wav"),
        ("FLAC", None, "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("MP3", None, "mp3"),
    ],
)
def test_accepts_common_formats(
    client: TestClient,
    services: Services,
    fan: dict[str, str],
    fmt: str,
    subtype: str | None,
    ext: str,
) -> None:
    sr = 44100 if fmt == "MP3" else 16000  # libsndfile's MP3 encoder wants a standard rate
    stereo = np.stack([tone(1.5, sr=sr), tone(1.5, sr=sr, freq=330)], axis=1)
    data = encode(stereo, fmt=fmt, subtype=subtype, sr=sr)
    r = _upload(client, fan, data, f"take.{ext}")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["channels"] == 2
    assert body["format"] == ext
    assert abs(body["duration_s"] - 1.5) < 0.1
    assert services.store.stat(body["sha256"]).size == len(data)
    assert client.get(f"/v1/uploads/{body['id']}", headers=fan).json() == body


def test_same_file_twice_is_one_object_two_uploads(
    client: TestClient, services: Services, fan: dict[str, str]
) -> None:
    data = wav(1.0, freq=441.0)
    first, second = _upload(client, fan, data).json(), _upload(client, fan, data).json()
    assert first["sha256"] == second["sha256"]
    assert first["id"] != second["id"]
    assert services.store.exists(first["sha256"])
    listed = {u["id"] for u in client.get("/v1/uploads", headers=fan).json()}
    assert {first["id"], second["id"]} <= listed


def _truncated() -> bytes:
    data = wav(2.0)
    return data[: len(data) // 3]


def _nan_wav() -> bytes:
    audio = tone(1.0)
    audio[100:200] = np.nan
    return encode(audio, subtype="FLOAT")


def _huge_declared_length() -> bytes:
    data = bytearray(wav(0.5))
    data[40:44] = (2**31).to_bytes(4, "little")  # data chunk claims 2 GB
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: b"this is not audio at all\n" * 100, "audio_unreadable"),
        (lambda: b"", "audio_unreadable"),
        (_truncated, "audio_unreadable"),
        (_huge_declared_length, "audio_too_long"),  # refused before decoding
        (lambda: encode(np.zeros(16000, dtype=np.float32)), "audio_silent"),
        (_nan_wav, "audio_non_finite"),
    ],
    ids=["not-audio", "empty", "truncated", "huge-declared-length", "silence", "nan"],
)
def test_rejected_audio_stores_nothing(
    client: TestClient,
    services: Services,
    fan: dict[str, str],
    make: object,
    code: str,
) -> None:
    data = make()  # type: ignore[operator]
    r = _upload(client, fan, data)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    assert not services.store.exists(hashlib.sha256(data).hexdigest())
    assert _uploads_of(services, fan, client) == 0
    assert scratch_files(services.settings) == []


def test_limits_on_size_and_duration(make_client: object) -> None:
    small = make_client(max_upload_bytes=200_000, max_upload_duration_s=2.0)  # type: ignore[operator]
    services: Services = small.app.state.services
    headers = sign_in(small, Wallet.new(), roles=("creator",))

    too_long = wav(3.0)  # 96 kB: under the size limit, over the duration limit
    r = _upload(small, headers, too_long)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "audio_too_long")

    too_big = wav(7.0)  # 224 kB
    r = _upload(small, headers, too_big)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "upload_too_large")

    for data in (too_long, too_big):
        assert not services.store.exists(hashlib.sha256(data).hexdigest())
    assert _uploads_of(services, headers, small) == 0
    assert scratch_files(services.settings) == []


def test_malformed_requests(client: TestClient, fan: dict[str, str]) -> None:
    r = client.post("/v1/uploads", content=wav(), headers={**fan, "Content-Type": "audio/wav"})
    assert (r.status_code, r.json()["error"]["code"]) == (415, "upload_not_multipart")
    r = client.post("/v1/uploads", data={"note": "hi"}, files={"other": ("a", b"x")}, headers=fan)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "upload_missing_file")
    r = client.post("/v1/uploads", files={"file": ("a.wav", wav())})
    assert r.status_code == 401


def test_unknown_and_foreign_upload_ids_are_404(client: TestClient, fan: dict[str, str]) -> None:
    upload = _upload(client, fan, wav(1.0, freq=500.0)).json()
    stranger = sign_in(client, Wallet.new(), roles=("fan",))
    for path in (f"/v1/uploads/{upload['id']}", f"/v1/uploads/{upload['id']}/url"):
        r = client.get(path, headers=stranger)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "upload_not_found")
    r = client.get("/v1/uploads/00000000-0000-0000-0000-000000000000", headers=fan)
    assert r.status_code == 404
    r = client.get("/v1/uploads/not-a-uuid", headers=fan)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")


def test_signed_url_serves_the_file_and_ranges(
    client: TestClient, services: Services, fan: dict[str, str]
) -> None:
    data = wav(1.0, freq=600.0)
    upload = _upload(client, fan, data, "mine.wav").json()
    signed = client.get(f"/v1/uploads/{upload['id']}/url", headers=fan).json()
    url = signed["url"]
    fetch = client.get if url.startswith("http://testserver") else httpx.get
    r = fetch(url)
    assert r.status_code == 200 and r.content == data
    r = fetch(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    tampered = url.replace(upload["sha256"][:8], "0" * 8)
    assert fetch(tampered).status_code == 403


# --- a real server: the client goes away mid-upload ----------------------------------------


@pytest.fixture(scope="module")
def live_server(services: Services) -> Iterator[str]:
    with serve(services) as base:
        yield base


def _wait_for_no_scratch(services: Services) -> None:
    deadline = time.monotonic() + 10
    while scratch_files(services.settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scratch_files(services.settings) == []


_HEAD = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="v.wav"\r\n'
    b"Content-Type: audio/wav\r\n\r\n"
)


def _request_head(port: int, headers: dict[str, str], framing: str) -> bytes:
    return (
        f"POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {headers['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\n{framing}\r\n\r\n"
    ).encode()


def test_interrupted_upload_leaves_nothing_visible(
    live_server: str, services: Services, request: pytest.FixtureRequest
) -> None:
    port = int(live_server.rsplit(":", 1)[1])
    http = httpx.Client(base_url=live_server)
    request.addfinalizer(http.close)
    headers = sign_in(http, Wallet.new(), roles=("fan",))  # type: ignore[arg-type]
    data = wav(4.0)
    framing = f"Content-Length: {len(_HEAD) + len(data) + 8}"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request_head(port, headers, framing) + _HEAD + data[: len(data) // 2])
        time.sleep(0.3)  # the server is writing the scratch file when the client vanishes
    _wait_for_no_scratch(services)
    assert not services.store.exists(hashlib.sha256(data).hexdigest())
    assert _uploads_of(services, headers, http) == 0  # type: ignore[arg-type]
    assert http.get("/healthz").status_code == 200  # and the server is fine


def test_endless_chunked_upload_is_cut_off_at_the_limit(
    live_server: str, services: Services, request: pytest.FixtureRequest
) -> None:
    port = int(live_server.rsplit(":", 1)[1])
    http = httpx.Client(base_url=live_server)
    request.addfinalizer(http.close)
    headers = sign_in(http, Wallet.new(), roles=("fan",))  # type: ignore[arg-type]
    limit = services.settings.max_upload_bytes
    chunk = b"\0" * (1 << 20)
    sent = 0
    response = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(_request_head(port, headers, "Transfer-Encoding: chunked"))
        sock.sendall(f"{len(_HEAD):x}\r\n".encode() + _HEAD + b"\r\n")
        # A client that would never stop (bounded here at 3x the limit): we keep sending
        # until the server answers.
        while sent < 3 * limit and not io_select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break  # the server hung up on us
            sent += len(chunk)
        while b"\r\n\r\n" not in response:
            got = sock.recv(65536)
            if not got:
                break
            response += got
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    # answered as soon as the limit was crossed (allowing for socket buffers in flight)
    assert sent <= limit + 16 * len(chunk)
    _wait_for_no_scratch(services)
    assert _uploads_of(services, headers, http) == 0  # type: ignore[arg-type]
