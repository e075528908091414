"""A deployed contract set on anvil and a small world on it: creators' models with fan tracks,
funded platform channels, and plays accepted through the real voucher checks."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.deploy import Contracts, Deployment
from contracts.eip712 import (
    ModelTerms,
    Voucher,
    escrow_domain,
    registry_domain,
    sign_model_terms,
)
from contracts.transact import transact
from royalties.gross import ChargedPlay
from royalties.ledger import Transaction, post_play
from royalties.platform_meter import PlatformMeter
from royalties.report import ChainRef
from royalties.vouchers import Accepted, ChannelState, Play, accept_voucher

EPOCH_S = 3_600
WINDOW_S = 600
PRICE = 3_001  # base units per play
DEPOSIT = 10**11  # base units per channel (100,000 TUSD)


@dataclass
class Net:
    """The node, a web3 handle, the deployment and its contracts, the dev accounts (0 deployer,
    1 settlement, 2 guardian, 3 treasury, 4 dust, 5.. free)."""

    node: AnvilNode
    w3: Web3
    d: Deployment
    c: Contracts
    acc: list[LocalAccount]

    def tx(self, fn: object, sender: LocalAccount) -> None:
        transact(self.w3, fn, sender.address)  # type: ignore[arg-type]

    def now(self) -> int:
        return self.node.latest_timestamp()

    def warp_to(self, timestamp: int) -> None:
        self.node.mine(timestamp=timestamp)


def model_terms(
    net: Net, creator: LocalAccount, creator_bps: int, fan_bps: int, artifact: bytes
) -> ModelTerms:
    return ModelTerms(
        creator=creator.address,
        payout=creator.address,
        artifact_hash=artifact,
        metadata_uri="ipfs://card",
        creator_bps=creator_bps,
        fan_bps=fan_bps,
        platform_bps=10_000 - creator_bps - fan_bps,
        price_per_play=PRICE,
        approval_required=False,
        nonce=int(net.c.registry.functions.nonces(creator.address).call()),
        deadline=net.now() + 3_600,
    )


class World:
    """``creators`` models (33.33 / 33.33 / 33.34 %: remainders happen), each with
    ``tracks_per_creator`` fan tracks, and ``platforms`` funded channels. Creators and fans are
    fresh keys (the relayer and registrar submit for them); platforms are dev accounts 5...
    """

    def __init__(
        self, net: Net, *, creators: int = 1, tracks_per_creator: int = 2, platforms: int = 2
    ) -> None:
        deployer, settlement = net.acc[0], net.acc[1]
        self.net = net
        reg, escrow, token = net.c.registry, net.c.escrow, net.c.token
        self.rdomain = registry_domain(net.d.chain_id, net.d.registry)
        self.edomain = escrow_domain(net.d.chain_id, net.d.escrow)
        self.chain = ChainRef(net.d.chain_id, net.d.registry, net.d.escrow, net.d.distributor)
        self.creators = [Account.from_key(bytes([0xC0, m + 1]) * 16) for m in range(creators)]
        self.tracks: list[bytes] = []
        for m, creator in enumerate(self.creators):
            terms = model_terms(net, creator, 3_333, 3_333, bytes([0x11, m]) * 16)
            sig = sign_model_terms(bytes(creator.key), self.rdomain, terms)
            net.tx(reg.functions.registerModel(terms.as_tuple(), sig, b""), deployer)
            model_id = bytes(reg.functions.modelIdOf(creator.address, terms.artifact_hash).call())
            for k in range(tracks_per_creator):
                track_id = bytes([0xA0, m, k]) + bytes(29)
                fan = Account.from_key(bytes([0xF0, m + 1, k + 1]) + bytes(29)).address
                net.tx(reg.functions.registerTrack(model_id, track_id, fan, 0, b""), settlement)
                self.tracks.append(track_id)
        self.states: dict[int, ChannelState] = {}
        self.meters: dict[int, PlatformMeter] = {}
        for platform in net.acc[5 : 5 + platforms]:
            net.tx(escrow.functions.openChannel(net.d.token, platform.address), platform)
            channel_id = int(escrow.functions.channelCount().call())
            net.tx(token.functions.faucet(platform.address, DEPOSIT), platform)
            net.tx(token.functions.approve(net.d.escrow, DEPOSIT), platform)
            net.tx(escrow.functions.deposit(channel_id, DEPOSIT), platform)
            self.states[channel_id] = ChannelState(channel_id, platform.address, balance=DEPOSIT)
            self.meters[channel_id] = PlatformMeter(channel_id, bytes(platform.key), self.edomain)
        self.plays: list[ChargedPlay] = []
        self.ledger: list[Transaction] = []
        self.latest: dict[int, tuple[Voucher, bytes]] = {}

    def stream(self, n: int) -> None:
        """``n`` plays, round robin over channels, spread over the tracks."""
        now = self.net.now()
        channels = sorted(self.states)
        offset = len(self.plays)
        for i in range(n):
            channel_id = channels[i % len(channels)]
            track_id = self.tracks[(i * 7 + offset) % len(self.tracks)]
            voucher, vsig = self.meters[channel_id].pay(track_id, PRICE, now)
            play = Play(track_id, PRICE, now)
            result = accept_voucher(
                self.states[channel_id], play, voucher, vsig, self.edomain, now=now
            )
            assert isinstance(result, Accepted), result
            self.states[channel_id] = result.state
            self.latest[channel_id] = (voucher, vsig)
            cumulative = voucher.cumulative_amount
            self.plays.append(ChargedPlay(channel_id, voucher.seq, track_id, PRICE, cumulative))
            ref = f"{channel_id}/{voucher.seq}"
            self.ledger.append(post_play(channel_id, track_id, PRICE, ref=ref))

    def update_terms(self, creator: int, creator_bps: int, fan_bps: int) -> None:
        """Creator ``creator`` signs new shares; the registry applies them from next epoch."""
        who = self.creators[creator]
        update = model_terms(self.net, who, creator_bps, fan_bps, bytes([0x11, creator]) * 16)
        usig = sign_model_terms(bytes(who.key), self.rdomain, update)
        reg = self.net.c.registry
        self.net.tx(reg.functions.updateTerms(update.as_tuple(), usig, b""), self.net.acc[0])

    def end_epoch(self, epoch: int) -> None:
        """Moves the chain just past the end of ``epoch``."""
        self.net.warp_to(self.net.d.epoch_genesis + (epoch + 1) * EPOCH_S + 1)
