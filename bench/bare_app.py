"""The baseline for bench/api.py: a bare FastAPI app serving the same two routes with no
database, middleware or logging — what the framework alone costs on this machine."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException

app = FastAPI()
BENCH_TOKEN = "bare-token"  # noqa: S105 - a fixed token for a local benchmark server
_SESSIONS = {hashlib.sha256(BENCH_TOKEN.encode()).hexdigest(): "0x" + "ab" * 20}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/me")
def me(authorization: Annotated[str | None, Header()] = None) -> dict[str, object]:
    token = (authorization or "").removeprefix("Bearer ")
    address = _SESSIONS.get(hashlib.sha256(token.encode()).hexdigest())
    if address is None:
        raise HTTPException(401)
    return {"address": address, "roles": ["fan"]}
