"""Demo seeding for ``timbre run`` on the embedded defaults: a demo creator whose voice is
trained from generated reference audio (a Debian voice) and registered with signed terms, a
demo fan, and a demo platform with a funded escrow channel. Every step checks what exists
first, so a second run (or a run after a crash) finishes the seeding instead of redoing it.

The demo accounts are anvil's public dev keys, offered in the web app as a labelled demo
wallet; none of this runs outside development."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.anvil import dev_accounts
from contracts.artifacts import bind
from contracts.eip712 import ModelTerms as SignedTerms
from contracts.eip712 import registry_domain, sign_model_terms
from contracts.transact import transact
from studio.auth.sessions import get_or_create_account
from studio.chain_relay import registry_nonce, relay_terms, relayer_for
from studio.db.models import Account, AccountRole, Job, Platform, Upload, VoiceModel
from studio.jobs import store as jobs
from studio.schemas import TermsIn
from studio.services import Services
from studio.upload_records import add_upload
from studio.voices import record_terms, verify_terms_signature
from voice_model.audio import probe
from voice_model.roster import ROSTER, TRAIN_SENTENCES, render

log = logging.getLogger("studio.demo")

FIRST_DEMO_ACCOUNT = 5  # matches the demo wallets of /v1/config
CREATOR, FAN, PLATFORM = 0, 1, 2
DEMO_VOICE = "Demo voice (slt)"
DEMO_SPEAKER = "slt"
REFERENCE_SENTENCES = 12  # about 30 s of speech
PRICE_PER_PLAY = 3_000  # base units of a 6-decimal token: $0.003
CHANNEL_FUNDING = 100 * 10**6  # $100
TRAINING_WAIT_S = 15 * 60


def demo_accounts() -> list[LocalAccount]:
    return dev_accounts(FIRST_DEMO_ACCOUNT + 3)[FIRST_DEMO_ACCOUNT:]


def _with_role(db: Session, address: str, role: str, services: Services) -> Account:
    account = get_or_create_account(db, address, services.clock())
    if role not in account.role_names:
        account.roles.append(AccountRole(role=role, granted_at=services.clock()))
    return account


def _fund_platform(services: Services, wallet: LocalAccount) -> str:
    """Open the demo platform's escrow channel and fund it from the TestUSD faucet."""
    assert services.chain is not None and services.deployment is not None
    w3, d = services.chain, services.deployment
    token = bind(w3, "TestUSD", d.token)
    escrow = bind(w3, "PlayEscrow", d.escrow)
    transact(w3, escrow.functions.openChannel(d.token, wallet.address), wallet)
    channel_id = int(escrow.functions.channelCount().call())
    transact(w3, token.functions.faucet(wallet.address, CHANNEL_FUNDING), wallet)
    transact(w3, token.functions.approve(d.escrow, CHANNEL_FUNDING), wallet)
    transact(w3, escrow.functions.deposit(channel_id, CHANNEL_FUNDING), wallet)
    return str(channel_id)


def _reference_uploads(db: Session, services: Services, owner: Account) -> list[Upload]:
    speaker = next(s for s in ROSTER if s.name == DEMO_SPEAKER)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = [
            render(speaker, text, sample_rate=22050, cache_dir=work)
            for text in TRAIN_SENTENCES[:REFERENCE_SENTENCES]
        ]
        rows = []
        for i, part in enumerate((clips[: len(clips) // 2], clips[len(clips) // 2 :])):
            path = work / f"reference-{i + 1}.wav"
            sf.write(path, np.concatenate(part), 22050)
            info = probe(path)
            stored = services.store.put_file(path, content_type="audio/wav")
            rows.append(
                add_upload(
                    db,
                    owner,
                    stored,
                    info,
                    filename=path.name,
                    content_type="audio/wav",
                    now=services.clock(),
                )
            )
        db.flush()
        return rows


def _start_training(db: Session, services: Services, creator: Account) -> VoiceModel:
    uploads = _reference_uploads(db, services, creator)
    voice = VoiceModel(
        creator_id=creator.id,
        name=DEMO_VOICE,
        description="Trained from generated speech (Debian's flite 'slt' voice) for the demo.",
        status="training",
        created_at=services.clock(),
    )
    db.add(voice)
    db.flush()
    s = services.settings
    job = jobs.create_job(
        db,
        owner_id=creator.id,
        kind="train",
        params={
            "name": DEMO_VOICE,
            "method": "baseline",
            "mode": "speech",
            "max_minutes": 10.0,
            "upload_ids": [str(u.id) for u in uploads],
        },
        inputs=[(u.id, "reference") for u in uploads],
        voice_model_id=voice.id,
        idempotency_key="demo-voice",
        now=services.clock(),
        limits=jobs.Limits(s.max_active_jobs_per_account, s.max_jobs_per_day, s.job_max_attempts),
    )
    db.commit()
    services.dispatch(job.id)
    return voice


def _wait_trained(services: Services, voice_id: object) -> VoiceModel | None:
    deadline = time.monotonic() + TRAINING_WAIT_S
    while time.monotonic() < deadline:
        with services.db() as db:
            voice = db.get(VoiceModel, voice_id)
            if voice is None:
                return None
            if voice.status != "training":
                return voice
            job = db.scalars(select(Job).where(Job.voice_model_id == voice.id)).first()
            if job is not None and job.status in ("failed", "cancelled"):
                log.error("demo voice training failed", extra={"error": job.error_message})
                return None
        time.sleep(0.5)
    return None


def _sign_terms(db: Session, services: Services, voice: VoiceModel, key: LocalAccount) -> None:
    assert services.deployment is not None and voice.artifact_sha256 is not None
    domain = registry_domain(services.deployment.chain_id, services.deployment.registry)
    terms = SignedTerms(
        creator=key.address,
        payout=key.address,
        artifact_hash=bytes.fromhex(voice.artifact_sha256),
        metadata_uri="",
        creator_bps=5_000,
        fan_bps=4_000,
        platform_bps=1_000,
        price_per_play=PRICE_PER_PLAY,
        approval_required=False,
        nonce=registry_nonce(services, key.address),
        deadline=int(time.time()) + 3600,
    )
    signature = sign_model_terms(bytes(key.key), domain, terms)
    body = TermsIn(
        payout_address=terms.payout,
        creator_bps=terms.creator_bps,
        fan_bps=terms.fan_bps,
        platform_bps=terms.platform_bps,
        price_per_play=str(terms.price_per_play),
        approval_required=False,
        metadata_uri="",
        nonce=str(terms.nonce),
        deadline=terms.deadline,
        signature="0x" + signature.hex(),
    )
    creator = db.get(Account, voice.creator_id)
    assert creator is not None
    now = services.clock()
    verify_terms_signature(body, voice, creator, services.deployment, services.chain, now)
    row = record_terms(db, voice, body, now)
    db.commit()
    relayer = relayer_for(services)
    if relayer is not None:
        relay_terms(relayer, row, voice, creator)
        db.commit()


def seed_demo(services: Services) -> None:
    """Create whatever part of the demo is missing (blocking; see ``start_seeding``)."""
    keys = demo_accounts()
    with services.db() as db:
        creator = _with_role(db, keys[CREATOR].address, "creator", services)
        _with_role(db, keys[FAN].address, "fan", services)
        owner = _with_role(db, keys[PLATFORM].address, "platform", services)
        platform = db.scalars(
            select(Platform).where(Platform.wallet_address == owner.address)
        ).one_or_none()
        if platform is None:
            platform = Platform(
                owner_id=owner.id,
                name="Demo streaming platform",
                wallet_address=owner.address,
                created_at=services.clock(),
            )
            db.add(platform)
        db.commit()
        if platform.channel_id is None and services.chain is not None:
            platform.channel_id = _fund_platform(services, keys[PLATFORM])
            db.commit()
        voice = db.scalars(
            select(VoiceModel).where(
                VoiceModel.creator_id == creator.id,
                VoiceModel.name == DEMO_VOICE,
                VoiceModel.status != "draft",  # a failed training is retried with a new voice
            )
        ).first()
        if voice is None:
            voice = _start_training(db, services, creator)
        voice_id = voice.id
    trained = _wait_trained(services, voice_id)
    if trained is None or trained.status != "ready":
        return
    with services.db() as db:
        voice = db.get(VoiceModel, voice_id)
        assert voice is not None
        if not voice.terms:
            _sign_terms(db, services, voice, keys[CREATOR])
    log.info("demo ready", extra={"voice": str(voice_id)})


def start_seeding(services: Services) -> threading.Thread:
    def run() -> None:
        try:
            seed_demo(services)
        except Exception:
            log.exception("demo seeding failed")

    thread = threading.Thread(target=run, daemon=True, name="demo-seed")
    thread.start()
    return thread
