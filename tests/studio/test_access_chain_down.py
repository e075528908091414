"""With the chain unreachable, the settlement routes answer 503 ``chain_unavailable`` (retry
later) and charge nothing; they never fail as internal errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.anvil import AnvilNode
from studio.db.models import ChannelMeter
from tests.studio.test_settlement_world import FIRST_PLATFORM, World, world

__all__ = ["world"]


@pytest.fixture
def node() -> Iterator[AnvilNode]:
    """An anvil of this test's own: the test stops it."""
    with AnvilNode() as n:
        yield n


def test_an_unreachable_chain_is_a_503_and_charges_nothing(world: World, node: AnvilNode) -> None:
    w = world
    w.sign_in("creator", "creator")
    fan = w.sign_in("fan", "fan")
    track = w.track("fan", w.voice("creator"))
    p = w.platform("platform", FIRST_PLATFORM, deposit=100_000)
    w.play(p, track, 3000)
    node.stop()
    body = w.access_body(p, track, 3000)
    r = w.client.post("/v1/access", json=body, headers={"X-API-Key": p.api_key})
    assert (r.status_code, r.json()["error"]["code"]) == (503, "chain_unavailable"), r.text
    with w.services.db() as db:
        meter = db.get(ChannelMeter, str(p.channel_id))
        assert meter is not None and (meter.last_seq, meter.charged) == (1, 3000)
    for path, headers in (("/v1/channels/mine", p.headers), ("/v1/payouts/me", fan)):
        r = w.client.get(path, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "chain_unavailable"), path
    assert w.client.get(f"/v1/tracks/{track['id']}").status_code == 200  # reads still answer
