"""``GET /v1/tracks/{id}/audio``: the track's fan and the voice's creator may listen (a pending
track before approving it, a published one any time); nobody else gets its audio, which
platforms stream as paid plays through ``POST /v1/access``."""

from __future__ import annotations

import hashlib

import httpx

from tests.studio.test_settlement_world import World, node, world

__all__ = ["node", "world"]


def _fetch(w: World, url: str) -> bytes:
    r = w.client.get(url) if url.startswith("http://testserver") else httpx.get(url)
    assert r.status_code == 200, r.text
    return r.content


def test_who_may_fetch_a_tracks_audio(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    w.sign_in("other_fan", "fan")
    w.sign_in("other_creator", "creator")
    voice = w.voice("creator", approval=True)
    track = w.track("fan", voice, "waiting")
    assert track["status"] == "pending_approval"
    path = f"/v1/tracks/{track['id']}/audio"

    # Pending: the fan and the creator hear it; to anyone else it does not exist.
    for who in ("fan", "creator"):
        r = w.client.get(path, headers=w.headers[who])
        assert r.status_code == 200, r.text
        body = _fetch(w, r.json()["url"])
        assert hashlib.sha256(body).hexdigest() == track["content_sha256"]
    for who in ("other_fan", "other_creator"):
        r = w.client.get(path, headers=w.headers[who])
        assert r.status_code == 404 and r.json()["error"]["code"] == "track_not_found"
    assert w.client.get(path).status_code == 401

    # Published (approval-free voice): public metadata, but the audio only to fan and creator.
    free = w.voice("creator")
    published = w.track("fan", free, "out")
    assert published["status"] == "published"
    path = f"/v1/tracks/{published['id']}/audio"
    assert w.client.get(f"/v1/tracks/{published['id']}").status_code == 200
    for who in ("fan", "creator"):
        assert w.client.get(path, headers=w.headers[who]).status_code == 200
    r = w.client.get(path, headers=w.headers["other_fan"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "paid_stream_only"
    assert w.client.get(path).status_code == 401
    assert (
        w.client.get(
            "/v1/tracks/00000000-0000-4000-8000-000000000000/audio", headers=w.headers["fan"]
        ).status_code
        == 404
    )
