"""``POST /v1/epochs/{n}/verify`` runs ``timbre verify`` in the service: it matches a really
settled epoch check by check, and fails at the report hash once the published report's bytes
are tampered with (then matches again once they are restored)."""

from __future__ import annotations

import io
from typing import Any

from storage import LocalObjectStore
from storage.s3 import S3ObjectStore, _key
from studio.db.models import Epoch
from studio.settlement.epochs import settle_next
from tests.studio.test_settlement_world import World, node, world

__all__ = ["node", "world"]

CHECKS = ["proposed", "stored", "hash", "format", "figures", "succession", "terms", "root"]


def _overwrite(w: World, sha256: str, data: bytes) -> None:
    """Replace the stored bytes of object ``sha256`` (what an attacker on the store could do)."""
    store = w.services.store
    if isinstance(store, LocalObjectStore):
        [path] = list(w.services.settings.resolved_objects_dir.rglob(sha256))
        path.chmod(0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store, S3ObjectStore)
        store.client.put_object(store.bucket, _key(sha256), io.BytesIO(data), length=len(data))


def _verify(w: World, n: int) -> dict[str, Any]:
    r = w.client.post(f"/v1/epochs/{n}/verify")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert [c["name"] for c in body["checks"]] == CHECKS
    return body


def test_verify_button_matches_a_settled_epoch_and_catches_tampering(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    track = w.track("fan", w.voice("creator", price=3000))
    platform = w.platform("platform", 5, deposit=100_000)
    epoch = [w.play(platform, track, 3000)["epoch"] for _ in range(2)][-1]

    # Not settled yet: no such epoch.
    r = w.client.post(f"/v1/epochs/{epoch}/verify")
    assert r.status_code == 404 and r.json()["error"]["code"] == "epoch_not_found"

    w.warp_past_epoch(epoch)
    outcome = settle_next(w.services)
    assert outcome.status == "settled" and outcome.problems == [], outcome
    settled = w.client.get(f"/v1/epochs/{epoch}", params={"report": "false"}).json()

    good = _verify(w, epoch)
    assert good["ok"] and good["difference"] is None
    assert {c["status"] for c in good["checks"]} == {"passed"}
    assert good["root"] == settled["merkle_root"]
    assert good["report_sha256"] == settled["report_sha256"]

    sha = settled["report_sha256"]
    original = b"".join(w.services.store.iter_bytes(sha))
    tampered = original.replace(b'"fan_bps":4000', b'"fan_bps":3999', 1)
    assert tampered != original
    _overwrite(w, sha, tampered)
    bad = _verify(w, epoch)
    assert not bad["ok"]
    statuses = {c["name"]: c["status"] for c in bad["checks"]}
    assert statuses["proposed"] == statuses["stored"] == "passed"
    assert statuses["hash"] == "failed" and statuses["root"] == "not_reached"
    assert bad["difference"]["where"] == "sha256" and bad["difference"]["expected"] == sha

    _overwrite(w, sha, original)
    assert _verify(w, epoch)["ok"]

    # An epoch the studio records but the chain never got a root for: the first check fails.
    with w.services.db() as db:
        row = db.get(Epoch, epoch)
        assert row is not None
        db.add(Epoch(number=epoch + 5, starts_at=row.starts_at, ends_at=row.ends_at))
        db.commit()
    missing = _verify(w, epoch + 5)
    assert not missing["ok"] and missing["difference"]["where"] == "onchain.RootProposed"
    assert [c["status"] for c in missing["checks"]] == ["failed"] + ["not_reached"] * 7
    assert w.client.post("/v1/epochs/-1/verify").status_code == 422
