"""The authorization matrix: every route of the app by every kind of caller by other users'
objects, through the real app, database, store and chain.

``ROUTES`` classifies every route (method + path template). A route the table does not
classify fails ``test_every_route_is_classified``, so a new route cannot ship unreviewed: add
one line. The rules the matrix derives the expected answer from:

* no credentials, or the wrong kind (an API key where a session is needed, or the reverse):
  **401**;
* signed in without the role the route needs: **403**;
* someone else's object named by id (upload, job, voice, track, platform, API key, play), or
  an object the caller may not see: **404**, the same answer as an unknown id, so ids are not
  an oracle;
* the owner (or anyone, on a public route): success.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from eth_account import Account as EthAccount
from eth_account.messages import encode_typed_data
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage import LocalObjectStore
from studio.app import create_app
from studio.db.models import Account, Job, VoiceModel
from tests.studio.audio_files import wav
from tests.studio.test_settlement_world import World, node, world
from tests.studio.wallets import Wallet, sign_in

__all__ = ["node", "world"]

PUBLIC, SESSION, KEY = "public", "session", "key"
OK = (200, 201, 204)


@dataclass(frozen=True)
class Call:
    """What a row sends: path parameters, body, and (rarely) other headers or expectations."""

    path: dict[str, str] = field(default_factory=dict)
    json: Any = None
    files: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] | None = None  # None: the actor's own credentials
    ok: tuple[int, ...] | None = None  # None: the rule's


@dataclass(frozen=True)
class Rule:
    auth: str  # PUBLIC, SESSION (bearer session) or KEY (platform API key)
    roles: tuple[str, ...] = ()  # SESSION: any one of these roles; () = any account
    owners: tuple[str, ...] = ()  # actors whose object the request names; others get `other`
    use: tuple[tuple[str, str], ...] = ()  # path parameter -> object name, where they differ
    call: Callable[[Matrix, str], Call] | None = None  # fresh objects, bodies
    ok: tuple[int, ...] = OK
    other: int = 404


def public(**kw: Any) -> Rule:
    return Rule(PUBLIC, **kw)


def session(*roles: str, **kw: Any) -> Rule:
    return Rule(SESSION, roles, **kw)


def key(**kw: Any) -> Rule:
    return Rule(KEY, **kw)


@dataclass(frozen=True)
class Actor:
    kind: str  # "none", "session" or "key"
    roles: tuple[str, ...] = ()


ACTORS = {
    "anonymous": Actor("none"),
    "fan": Actor("session", ("fan",)),
    "fan2": Actor("session", ("fan",)),
    "creator": Actor("session", ("creator",)),
    "creator2": Actor("session", ("creator",)),
    "platform_owner": Actor("session", ("platform",)),  # the wallet that registered it
    "platform_owner2": Actor("session", ("platform",)),
    "platform": Actor("key"),  # the platform's API key (X-API-Key), as its servers call
    "platform2": Actor("key"),
}
PLATFORM_OWNERS = ("platform_owner", "platform_owner2")


@dataclass
class Matrix:
    """The world the matrix runs in: actors' credentials and the objects they own."""

    w: World
    headers: dict[str, dict[str, str]]
    objects: dict[str, str]
    platforms: dict[str, Any]

    @property
    def client(self) -> TestClient:
        return self.w.client

    def account(self, name: str) -> Account:
        with self.w.services.db() as db:
            return db.scalars(
                select(Account).where(Account.address == self.w.wallets[name].address)
            ).one()

    def fresh_session(self, actor: str) -> dict[str, str] | None:
        """A second session of the actor's own wallet (for routes that end it)."""
        if ACTORS[actor].kind != "session":
            return None
        return sign_in(self.client, self.w.wallets[actor])

    def throwaway(self, actor: str) -> dict[str, str] | None:
        """A new account with the actor's roles, for routes that change the account itself."""
        if ACTORS[actor].kind != "session":
            return None
        roles = tuple(r for r in ACTORS[actor].roles if r in ("creator", "fan"))
        return sign_in(self.client, Wallet.new(), roles=roles)

    def draft_voice(self) -> str:
        with self.w.services.db() as db:
            vm = VoiceModel(
                creator_id=self.account("creator").id,
                name=f"draft {uuid.uuid4().hex[:6]}",
                status="ready",
                method="baseline",
                artifact_sha256=os.urandom(32).hex(),
                created_at=self.w.services.clock(),
            )
            db.add(vm)
            db.commit()
            return str(vm.id)

    def running_job(self) -> str:
        now = self.w.services.clock()
        with self.w.services.db() as db:
            job = Job(
                owner_id=self.account("fan").id,
                kind="convert",
                status="running",
                stage="converting",
                percent=10.0,
                params={},
                voice_model_id=uuid.UUID(self.objects["voice_id"]),
                created_at=now,
                started_at=now,
                heartbeat_at=now,
            )
            db.add(job)
            db.commit()
            return str(job.id)

    def pending_track(self) -> str:
        return str(self.w.track("fan", self.objects["approval_voice"], "pending")["id"])

    def published_track(self) -> str:
        return str(self.w.track("fan", self.objects["voice_id"], "published")["id"])


# --- bodies and fresh objects of the rows that need them --------------------------------------


def _siwe(m: Matrix, actor: str) -> Call:
    w = m.w.wallets.get(actor) or Wallet.new()
    nonce = m.client.get("/v1/auth/nonce").json()["nonce"]
    message = w.siwe_message(nonce)
    return Call(json={"message": message, "signature": w.sign(message)})


def _terms(m: Matrix, actor: str) -> Call:
    """The voice creator's signed next terms (valid for the owner; refused before the signature
    is even looked at for anyone else)."""
    return Call(json=m.w.terms_request("creator", m.objects["voice_id"]))


def _approve(m: Matrix, actor: str) -> Call:
    track = m.pending_track()
    request = m.client.get(f"/v1/tracks/{track}/approval", headers=m.headers["creator"]).json()
    signed = EthAccount.sign_message(
        encode_typed_data(full_message=request["typed_data"]),
        bytes(m.w.wallets["creator"].account.key),
    )
    body = {"deadline": request["deadline"], "signature": signed.signature.to_0x_hex()}
    return Call(path={"track_id": track}, json=body)


def _access(m: Matrix, actor: str) -> Call:
    """The platform's next voucher; sent by anyone else, it is taken back from the platform's
    meter (which stays in step with what the studio charged)."""
    p = m.platforms["platform"]
    track = m.client.get(f"/v1/tracks/{m.objects['track_id']}").json()
    body = m.w.access_body(p, track, 3000)
    if actor != "platform":
        p.meter.undo_last()
    return Call(json=body)


def _delete_key(m: Matrix, actor: str) -> Call:
    r = m.client.post(
        f"/v1/platforms/{m.objects['platform_id']}/api-keys",
        json={"name": "to revoke"},
        headers=m.headers["platform_owner"],
    )
    assert r.status_code == 201, r.text
    return Call(path={"key_id": r.json()["id"]})


def _own_channel(m: Matrix, actor: str) -> Call:
    owner = actor if actor in PLATFORM_OWNERS else "platform_owner"
    return Call(json={"channel_id": str(m.platforms[owner.replace("_owner", "")].channel_id)})


def _signed_object(m: Matrix, actor: str) -> Call:
    store, sha = m.w.services.store, m.objects["sha256"]
    if not isinstance(store, LocalObjectStore):
        # The S3 backend hands out the S3 server's own URLs; this route then serves nothing.
        return Call(path={"sha256": sha}, query={"expires": "1", "sig": "0"}, ok=(404,))
    url = store.signed_url(sha, expires=timedelta(minutes=5), filename="a.wav")
    parts = urlsplit(url)
    return Call(path={"sha256": parts.path.rsplit("/", 1)[-1]}, query=dict(parse_qsl(parts.query)))


def _setup_step(m: Matrix) -> dict[str, str]:
    """A token approval step of platform_owner's channel set-up (valid to estimate and send)."""
    r = m.client.get("/v1/channels/setup?amount=1", headers=m.headers["platform_owner"])
    assert r.status_code == 200, r.text
    return dict(r.json()["steps"][0])


def _tx_params(m: Matrix, actor: str) -> Call:
    step = _setup_step(m)
    return Call(query={"to": step["to"], "data": step["data"]})


def _raw_tx(m: Matrix, actor: str) -> Call:
    """A set-up step signed by the actor's wallet if it owns a platform (else platform_owner's)."""
    owner = actor if actor in PLATFORM_OWNERS else "platform_owner"
    step = _setup_step(m)
    r = m.client.get(
        "/v1/channels/transaction-params",
        params={"to": step["to"], "data": step["data"]},
        headers=m.headers[owner],
    )
    assert r.status_code == 200, r.text
    p = r.json()
    tx = {
        "type": 2,
        "chainId": p["chain_id"],
        "nonce": p["nonce"],
        "to": p["to"],
        "data": step["data"],
        "value": 0,
        "gas": int(p["gas"]),
        "maxFeePerGas": int(p["max_fee_per_gas"]),
        "maxPriorityFeePerGas": int(p["max_priority_fee_per_gas"]),
    }
    signed = EthAccount.sign_transaction(tx, bytes(m.w.wallets[owner].account.key))
    return Call(json={"raw": "0x" + bytes(signed.raw_transaction).hex()})


def _accept(m: Matrix, actor: str) -> Call:
    """The voice's current terms version (the terms row may have signed a newer one)."""
    voice = m.client.get(f"/v1/voices/{m.objects['voice_id']}").json()
    return Call(json={"terms_version": voice["terms"]["version"]})


def _convert(m: Matrix, actor: str) -> Call:
    """A conversion of the fan's own upload with a voice whose current terms it accepted."""
    r = m.client.post(
        f"/v1/voices/{m.objects['voice_id']}/accept",
        json=_accept(m, actor).json,
        headers=m.headers["fan"],
    )
    assert r.status_code == 200, r.text
    body = {
        "kind": "convert",
        "upload_id": m.objects["upload_id"],
        "voice_model_id": m.objects["voice_id"],
    }
    return Call(json=body, headers=None)


def _train(m: Matrix, actor: str) -> Call:
    body = {"kind": "train", "upload_ids": [m.objects["creator_upload"]], "name": "v"}
    return Call(json=body)


# --- the table: one line per route (and per extra case) ---------------------------------------

ROUTES: dict[str, Rule | tuple[Rule, ...]] = {
    "GET /openapi.json": public(),
    "GET /docs": public(),
    "GET /docs/oauth2-redirect": public(),
    "GET /healthz": public(),
    "GET /readyz": public(),
    "GET /v1/config": public(),
    "GET /v1/auth/nonce": public(),
    "POST /v1/auth/siwe": public(call=_siwe),
    "POST /v1/auth/logout": session(call=lambda m, a: Call(headers=m.fresh_session(a))),
    "GET /v1/me": session(),
    "POST /v1/me/roles": session(
        call=lambda m, a: Call(json={"role": "fan"}, headers=m.throwaway(a))
    ),
    "POST /v1/platforms": session(
        call=lambda m, a: Call(json={"name": "p"}, headers=m.throwaway(a))
    ),
    "GET /v1/platforms/current": key(),
    "GET /v1/platforms/mine": session(owners=PLATFORM_OWNERS),  # else 404 no_platform
    "GET /v1/platforms/{platform_id}/usage": session(owners=("platform_owner",)),
    "GET /v1/platforms/{platform_id}": session(owners=("platform_owner",)),
    "POST /v1/platforms/{platform_id}/api-keys": session(
        owners=("platform_owner",), call=lambda m, a: Call(json={"name": "k2"})
    ),
    "GET /v1/platforms/{platform_id}/api-keys": session(owners=("platform_owner",)),
    "DELETE /v1/platforms/{platform_id}/api-keys/{key_id}": session(
        owners=("platform_owner",), call=_delete_key
    ),
    "POST /v1/uploads": session(
        "creator", "fan", call=lambda m, a: Call(files={"file": ("a.wav", wav(0.5), "audio/wav")})
    ),
    "GET /v1/uploads": session(),
    "GET /v1/uploads/{upload_id}": session(owners=("fan",)),
    "GET /v1/uploads/{upload_id}/url": session(owners=("fan",)),
    # A capability URL: the signature is the credential.
    "GET /v1/objects/{sha256}": public(call=_signed_object),
    "GET /v1/voices": public(),
    "GET /v1/voices/mine": session("creator"),
    "GET /v1/voices/{voice_id}": (
        public(),  # registered: in the public catalogue
        public(owners=("creator",), use=(("voice_id", "draft_voice"),)),  # only its creator
    ),
    "POST /v1/voices/{voice_id}/terms": session("creator", owners=("creator",), call=_terms),
    "GET /v1/voices/registry/nonce": session("creator"),
    "POST /v1/voices/{voice_id}/accept": (
        session("fan", call=_accept),
        # a draft is invisible to fans; nobody with the fan role owns it
        session(
            "fan",
            owners=("creator",),
            use=(("voice_id", "draft_voice"),),
            call=_accept,
        ),
    ),
    "POST /v1/voices/{voice_id}/retire": session(
        "creator", owners=("creator",), call=lambda m, a: Call(path={"voice_id": m.draft_voice()})
    ),
    "POST /v1/jobs": (
        session("fan", owners=("fan",), call=_convert),  # the fan's own upload
        session("creator", owners=("creator",), call=_train),  # the creator's own uploads
    ),
    "GET /v1/jobs": session(),
    "GET /v1/jobs/{job_id}": session(owners=("fan",)),
    "POST /v1/jobs/{job_id}/cancel": session(
        owners=("fan",), call=lambda m, a: Call(path={"job_id": m.running_job()})
    ),
    "GET /v1/jobs/{job_id}/result": session(owners=("fan",)),
    "GET /v1/jobs/{job_id}/events": session(owners=("fan",)),
    "POST /v1/tracks": session(
        "fan",
        owners=("fan",),
        call=lambda m, a: Call(
            json={"job_id": m.w.conversion("fan", m.objects["voice_id"]), "title": "t"}
        ),
    ),
    "GET /v1/tracks": public(),
    "GET /v1/tracks/mine": session(),
    "GET /v1/tracks/approvals": session("creator"),
    "GET /v1/tracks/{track_id}": (
        public(),  # published
        public(owners=("fan", "creator"), use=(("track_id", "pending_track"),)),
    ),
    "GET /v1/tracks/{track_id}/audio": (
        # published: public, but heard only as paid plays through a platform
        session(owners=("fan", "creator"), other=403),
        session(owners=("fan", "creator"), use=(("track_id", "pending_track"),)),
    ),
    "GET /v1/tracks/{track_id}/approval": session(
        "creator", owners=("creator",), use=(("track_id", "pending_track"),)
    ),
    "POST /v1/tracks/{track_id}/approve": session("creator", owners=("creator",), call=_approve),
    "POST /v1/tracks/{track_id}/reject": session(
        "creator", owners=("creator",), call=lambda m, a: Call(path={"track_id": m.pending_track()})
    ),
    "POST /v1/tracks/{track_id}/retire": session(
        owners=("fan", "creator"), call=lambda m, a: Call(path={"track_id": m.published_track()})
    ),
    # The signed-in wallet's own platform: an account without one gets 404 no_platform.
    "GET /v1/channels/setup": session(owners=PLATFORM_OWNERS),
    "POST /v1/channels/link": session(owners=PLATFORM_OWNERS, call=_own_channel),
    "POST /v1/channels/faucet": session(
        owners=PLATFORM_OWNERS, call=lambda m, a: Call(json={"amount": "1000"})
    ),
    "GET /v1/channels/mine": session(owners=PLATFORM_OWNERS),
    "GET /v1/channels/current": key(),
    "GET /v1/channels/withdrawal": session(owners=PLATFORM_OWNERS),
    "GET /v1/channels/transaction-params": session(owners=PLATFORM_OWNERS, call=_tx_params),
    "POST /v1/channels/transactions": session(owners=PLATFORM_OWNERS, call=_raw_tx),
    # Another platform's voucher is not a credential: its signature is refused (403).
    "POST /v1/access": key(owners=("platform",), call=_access, other=403),
    "GET /v1/access/plays/{play_id}/proof": key(owners=("platform",)),
    "GET /v1/access/usage": key(),
    "GET /v1/payouts/me": session(),
    # Every account may ask; an account that is owed nothing gets 409 nothing_to_claim.
    "POST /v1/payouts/me/claim": session(ok=(200, 409)),
    "GET /v1/payouts/me/epochs": session(),
    "GET /v1/payouts/me/tracks": session(),
    "GET /v1/payouts/me/voices": session("creator"),
    "GET /v1/epochs": public(),
    # Nothing is settled in this world: the public answer is 404 epoch_not_found for everyone.
    "GET /v1/epochs/{number}": public(ok=(404,)),
    "POST /v1/epochs/{number}/verify": public(ok=(200, 404)),  # as GET, for everyone
    "GET /{path:webpath}": public(),
}


def expected(rule: Rule, actor_name: str) -> tuple[int, ...]:
    actor = ACTORS[actor_name]
    if rule.auth == KEY and actor.kind != "key":
        return (401,)
    if rule.auth == SESSION:
        if actor.kind != "session":
            return (401,)
        if rule.roles and not set(rule.roles) & set(actor.roles):
            return (403,)
    if rule.owners and actor_name not in rule.owners:
        return (rule.other,)
    return rule.ok


# --- the route table of the app ----------------------------------------------------------------


def app_routes(app: FastAPI) -> set[str]:
    """Every "METHOD path" the app serves (HEAD is GET's twin and not listed)."""
    found: set[str] = set()
    for route in app.routes:
        # FastAPI >= 0.130 wraps included routers; each yields its effective routes.
        contexts = getattr(route, "effective_route_contexts", None)
        items = list(contexts()) if contexts else [route]
        for r in items:
            for method in getattr(r, "methods", None) or ():
                if method != "HEAD":
                    found.add(f"{method} {r.path}")
    return found


def test_every_route_is_classified() -> None:
    routes = app_routes(create_app())
    assert len(routes) > 50  # the walk really sees the included routers
    unclassified = sorted(routes - set(ROUTES))
    stale = sorted(set(ROUTES) - routes)
    assert not unclassified, f"routes missing from the authorization table: {unclassified}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_a_route_the_table_does_not_know_fails_the_check() -> None:
    app = create_app()

    @app.get("/v1/unreviewed")
    def unreviewed() -> dict[str, str]:
        return {}

    assert "GET /v1/unreviewed" in app_routes(app) - set(ROUTES)


# --- the matrix ----------------------------------------------------------------------------------


@pytest.fixture
def make_client(
    make_client: Callable[..., TestClient],
) -> Callable[..., TestClient]:
    """No job workers: the matrix's jobs stay exactly as the rows put them."""
    return lambda **kw: make_client(embedded_workers=0, **kw)


def _upload(w: World, who: str) -> dict[str, Any]:
    r = w.client.post(
        "/v1/uploads",
        files={"file": ("in.wav", wav(0.5), "audio/wav")},
        headers=w.headers[who],
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
def matrix(world: World) -> Matrix:
    w = world
    for name in ("fan", "fan2"):
        w.sign_in(name, "fan")
    for name in ("creator", "creator2"):
        w.sign_in(name, "creator")
    platforms = {
        "platform": w.platform("platform_owner", 5, 1_000_000),
        "platform2": w.platform("platform_owner2", 6, 1_000_000),
    }
    voice = w.voice("creator")
    approval_voice = w.voice("creator", approval=True)
    upload = _upload(w, "fan")
    creator_upload = _upload(w, "creator")
    r = w.client.post(
        f"/v1/voices/{voice}/accept", json={"terms_version": 1}, headers=w.headers["fan"]
    )
    assert r.status_code == 200, r.text
    track = w.track("fan", voice)
    play = w.play(platforms["platform"], track, 3000)
    owner = w.headers["platform_owner"]
    platform_id = w.client.get(
        "/v1/platforms/current", headers={"X-API-Key": platforms["platform"].api_key}
    ).json()["id"]
    keys = w.client.get(f"/v1/platforms/{platform_id}/api-keys", headers=owner).json()
    headers = dict(w.headers)
    headers["anonymous"] = {}
    for name, p in platforms.items():
        headers[name] = {"X-API-Key": p.api_key}
    m = Matrix(w, headers, {}, platforms)
    m.objects.update(
        voice_id=voice,
        approval_voice=approval_voice,
        upload_id=upload["id"],
        creator_upload=creator_upload["id"],
        sha256=upload["sha256"],
        job_id=w.conversion("fan", voice),
        track_id=track["id"],
        platform_id=platform_id,
        key_id=keys[0]["id"],
        play_id=play["play_id"],
        number="0",
        path="voices/a-deep-link",
    )
    m.objects.update(draft_voice=m.draft_voice(), pending_track=m.pending_track())
    return m


def _cases() -> Iterator[tuple[str, int, Rule]]:
    for route, rules in ROUTES.items():
        for i, rule in enumerate(rules if isinstance(rules, tuple) else (rules,)):
            yield route, i, rule


def _send(m: Matrix, route: str, rule: Rule, actor: str) -> tuple[int, str, Any]:
    method, template = route.split(" ", 1)
    call = rule.call(m, actor) if rule.call else Call()
    names = dict(rule.use)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return call.path.get(name) or m.objects[names.get(name, name)]

    path = re.sub(r"\{([^}]+)\}", fill, template)
    headers = m.headers[actor] if call.headers is None else call.headers
    r = m.client.request(
        method, path, params=call.query, json=call.json, files=call.files, headers=headers
    )
    # No answer ever sets a cookie: credentials are never ambient (docs/SECURITY.md).
    assert "set-cookie" not in r.headers, (route, actor, r.headers)
    return r.status_code, path, (call.ok if call.ok is not None else None)


def test_authorization_matrix(matrix: Matrix) -> None:
    """Every route by every caller; all mismatches are reported together."""
    wrong, sent = [], 0
    for route, case, rule in _cases():
        for actor in ACTORS:
            status, path, ok = _send(matrix, route, rule, actor)
            want = expected(rule, actor)
            if ok is not None and want == rule.ok:
                want = ok
            sent += 1
            if status not in want:
                wrong.append(f"{route} [case {case}] as {actor}: {status}, want {want} ({path})")
    assert sent >= len(ROUTES) * len(ACTORS)
    assert not wrong, "\n".join(wrong)


def _refusals_use_the_error_body(matrix: Matrix) -> None:
    """401/403/404 refusals carry the one error shape with a stable code."""
    m = matrix
    for path, headers, status, code in [
        ("/v1/me", {}, 401, "not_signed_in"),
        ("/v1/me", m.headers["platform"], 401, "not_signed_in"),  # a key is not a session
        ("/v1/channels/current", m.headers["fan"], 401, "no_api_key"),
        ("/v1/voices/mine", m.headers["fan"], 403, "role_required"),
        (f"/v1/uploads/{m.objects['upload_id']}", m.headers["fan2"], 404, "upload_not_found"),
    ]:
        r = m.client.get(path, headers=headers)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"]["code"] == code, (path, r.text)
    # A session token presented as an API key, and an API key as a bearer token.
    bearer = m.headers["platform_owner"]["Authorization"].split(" ", 1)[1]
    r = m.client.get("/v1/channels/current", headers={"X-API-Key": bearer})
    assert r.status_code == 401, r.text
    api_key = m.platforms["platform"].api_key
    r = m.client.get("/v1/me", headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 401, r.text


def test_refusal_bodies_and_mixed_ids(matrix: Matrix) -> None:
    """Refusals carry the one error body; objects named together must belong together: one's
    own platform with another platform's key id, another fan's upload in one's own job,
    another platform's channel or play. (One test: the world takes seconds to build.)"""
    m = matrix
    _refusals_use_the_error_body(m)
    other_platform = m.client.get("/v1/platforms/current", headers=m.headers["platform2"]).json()[
        "id"
    ]
    own_keys = m.client.get(
        f"/v1/platforms/{other_platform}/api-keys", headers=m.headers["platform_owner2"]
    )
    assert own_keys.status_code == 200
    r = m.client.delete(
        f"/v1/platforms/{other_platform}/api-keys/{m.objects['key_id']}",
        headers=m.headers["platform_owner2"],
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "api_key_not_found"), r.text
    assert m.client.get("/v1/platforms/current", headers=m.headers["platform"]).status_code == 200

    # fan2 accepts the voice, then names fan's upload in a conversion: refused as unknown.
    m.client.post(
        f"/v1/voices/{m.objects['voice_id']}/accept",
        json={"terms_version": 1},
        headers=m.headers["fan2"],
    )
    r = m.client.post(
        "/v1/jobs",
        json={
            "kind": "convert",
            "upload_id": str(uuid.uuid4()),
            "voice_model_id": m.objects["voice_id"],
            "accompaniment_upload_id": m.objects["upload_id"],
        },
        headers=m.headers["fan2"],
    )
    assert r.status_code == 404, r.text
    own = _upload(m.w, "fan2")
    r = m.client.post(
        "/v1/jobs",
        json={
            "kind": "convert",
            "upload_id": own["id"],
            "voice_model_id": m.objects["voice_id"],
            "accompaniment_upload_id": m.objects["upload_id"],
        },
        headers=m.headers["fan2"],
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "upload_not_found"), r.text

    # A channel is public on-chain; linking someone else's is refused as not theirs.
    r = m.client.post(
        "/v1/channels/link",
        json={"channel_id": str(m.platforms["platform"].channel_id)},
        headers=m.headers["platform_owner2"],
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_owner"), r.text

    # Another platform's play has no proof for this key.
    r = m.client.get(
        f"/v1/access/plays/{m.objects['play_id']}/proof", headers=m.headers["platform2"]
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "play_not_found"), r.text
    with m.w.services.db() as db:
        assert db.get(Job, uuid.UUID(m.objects["job_id"])) is not None
