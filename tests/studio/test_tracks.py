"""Fan tracks: published to the real VoiceRegistry by the relayer; with approval-required terms
they wait for the creator's EIP-712 TrackApproval (or rejection); retired voices take none."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from contracts.views import track as onchain_track
from studio.settlement import tracks as tracks_module
from studio.settlement.epochs import settle_next
from tests.studio.test_settlement_world import World, node, world

__all__ = ["node", "world"]


def _sign(typed_data: dict[str, object], key: bytes) -> str:
    signed = Account.sign_message(encode_typed_data(full_message=typed_data), key)
    return str(signed.signature.to_0x_hex())


def test_tracks_wait_for_the_creators_signed_approval(world: World) -> None:
    w = world
    creator = w.sign_in("creator", "creator")
    fan = w.sign_in("fan", "fan")
    voice = w.voice("creator", approval=True)
    pending = w.track("fan", voice, "needs approval")
    assert pending["status"] == "pending_approval" and pending["onchain_id"] is None
    assert w.client.get("/v1/tracks").json() == []
    assert w.client.get(f"/v1/tracks/{pending['id']}").status_code == 404  # not public yet
    assert w.client.get(f"/v1/tracks/{pending['id']}", headers=fan).status_code == 200
    queue = w.client.get("/v1/tracks/approvals", headers=creator).json()
    assert [t["id"] for t in queue] == [pending["id"]]

    # An approval whose deadline has passed is refused by the registry; the track keeps waiting.
    stale = w.client.get(
        f"/v1/tracks/{pending['id']}/approval?deadline={w.now() - 10}", headers=creator
    ).json()
    r = w.client.post(
        f"/v1/tracks/{pending['id']}/approve",
        json={
            "deadline": stale["deadline"],
            "signature": _sign(stale["typed_data"], bytes(w.wallets["creator"].account.key)),
        },
        headers=creator,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "registry_refused"), r.text
    assert w.client.get(f"/v1/tracks/{pending['id']}", headers=fan).json()["status"] == (
        "pending_approval"
    )

    request = w.client.get(f"/v1/tracks/{pending['id']}/approval", headers=creator).json()
    typed = request["typed_data"]
    assert typed["primaryType"] == "TrackApproval"
    assert typed["message"]["contentHash"] == "0x" + pending["content_sha256"]
    # Only the creator's signature approves; the fan (or anyone else) cannot.
    r = w.client.post(
        f"/v1/tracks/{pending['id']}/approve",
        json={
            "deadline": request["deadline"],
            "signature": _sign(typed, bytes(w.wallets["fan"].account.key)),
        },
        headers=creator,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "approval_bad_signature")
    assert (
        w.client.post(
            f"/v1/tracks/{pending['id']}/approve",
            json={"deadline": 1, "signature": "0x00"},
            headers=fan,
        ).status_code
        == 403
    )
    r = w.client.post(
        f"/v1/tracks/{pending['id']}/approve",
        json={
            "deadline": request["deadline"],
            "signature": _sign(typed, bytes(w.wallets["creator"].account.key)),
        },
        headers=creator,
    )
    assert r.status_code == 200, r.text
    published = r.json()
    assert published["status"] == "published" and published["tx_hash"]
    on_chain = onchain_track(w.contracts.registry, bytes.fromhex(pending["content_sha256"]))
    assert on_chain is not None and on_chain.fan == w.wallets["fan"].address
    assert [t["id"] for t in w.client.get("/v1/tracks").json()] == [pending["id"]]
    assert w.client.get(f"/v1/tracks/{pending['id']}").json()["status"] == "published"

    # A rejected track is never registered, and cannot be approved afterwards.
    other = w.track("fan", voice, "rejected")
    r = w.client.post(f"/v1/tracks/{other['id']}/reject", headers=creator)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = w.client.post(
        f"/v1/tracks/{other['id']}/approve",
        json={"deadline": 1, "signature": "0x00"},
        headers=creator,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "track_not_pending")
    assert onchain_track(w.contracts.registry, bytes.fromhex(other["content_sha256"])) is None
    mine = {t["id"]: t["status"] for t in w.client.get("/v1/tracks/mine", headers=fan).json()}
    assert mine == {pending["id"]: "published", other["id"]: "rejected"}


def test_track_refusals(world: World) -> None:
    w = world
    creator = w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    stranger = w.sign_in("stranger", "fan")
    voice = w.voice("creator")
    job = w.conversion("fan", voice)
    # Someone else's job is unknown to a fan; the owner publishes it once.
    r = w.client.post("/v1/tracks", json={"job_id": job, "title": "t"}, headers=stranger)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "job_not_found")
    r = w.client.post("/v1/tracks", json={"job_id": job, "title": "t"}, headers=w.headers["fan"])
    assert r.status_code == 201 and r.json()["status"] == "published"
    r = w.client.post("/v1/tracks", json={"job_id": job, "title": "t"}, headers=w.headers["fan"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "track_exists")
    # A creator is not a fan; an empty title is invalid.
    assert (
        w.client.post("/v1/tracks", json={"job_id": job, "title": "t"}, headers=creator).status_code
        == 403
    )
    r = w.client.post("/v1/tracks", json={"job_id": job, "title": ""}, headers=w.headers["fan"])
    assert r.status_code == 422
    # A retired voice takes no new tracks.
    assert w.client.post(f"/v1/voices/{voice}/retire", headers=creator).status_code == 200
    late = w.conversion("fan", voice)
    r = w.client.post(
        "/v1/tracks", json={"job_id": late, "title": "late"}, headers=w.headers["fan"]
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "voice_retired")


def test_a_track_the_chain_missed_is_relayed_by_the_next_settlement(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    w.sign_in("creator", "creator")
    fan = w.sign_in("fan", "fan")
    voice = w.voice("creator")
    real = tracks_module.relay_track

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("chain unreachable")

    monkeypatch.setattr(tracks_module, "relay_track", unreachable)
    draft = w.track("fan", voice, "recorded while the chain was down")
    assert draft["status"] == "draft" and draft["onchain_id"] is None
    monkeypatch.setattr(tracks_module, "relay_track", real)
    assert settle_next(w.services).status == "nothing_to_do"
    got = w.client.get(f"/v1/tracks/{draft['id']}", headers=fan).json()
    assert got["status"] == "published" and got["onchain_id"] == "0x" + draft["content_sha256"]
    assert onchain_track(w.contracts.registry, bytes.fromhex(draft["content_sha256"])) is not None
