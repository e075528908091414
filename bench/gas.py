"""Gas per operation of the Timbre contracts and the amortized on-chain cost per play.

Runs a fresh anvil, deploys the set, measures every operation's gasUsed from receipts, then
models one settlement epoch of 1,000,000 plays from 10 platforms to 10,000 payees: the
settlement service redeems 10 channel vouchers in one transaction and posts one Merkle root;
payees claim separately (pull), with a 14-hash proof. Baselines in the same run: a plain
ERC-20 transfer (what a naive per-play push split pays at least once per payee per play) and
0xSplits v1's published distribute cost. Prints JSON, then a one-line summary.

    .venv/bin/python bench/gas.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.anvil import AnvilNode
from contracts.artifacts import bind, load_artifact
from contracts.deploy import deploy_all
from contracts.eip712 import (
    ModelTerms,
    TrackApproval,
    Voucher,
    escrow_domain,
    registry_domain,
    sign_model_terms,
    sign_track_approval,
    sign_voucher,
)
from contracts.merkle import PayoutTree
from contracts.transact import transact

PLAYS = 1_000_000
PLATFORMS = 10
PAYEES = 10_000
PRICE_PER_PLAY = 3_000  # base units (0.003 USD)
EPOCH_S = 3_600
WINDOW_S = 600
DELAY_S = 86_400
SPLITS_V1_TWO_RECIPIENTS = 57_378  # 0xSplits v1 SplitMain.distributeERC20, 2 recipients
SPLITS_V1_PER_EXTRA_RECIPIENT = 7_000  # about, per extra recipient


class Bench:
    def __init__(self, node: AnvilNode) -> None:
        self.node = node
        self.w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 120}))
        self.accounts = node.dev_accounts
        self.gas: dict[str, int] = {}

    def send(self, label: str | None, fn: Any, sender: LocalAccount) -> Any:
        receipt = transact(self.w3, fn, sender.address)
        if label is not None:
            self.gas[label] = int(receipt["gasUsed"])
        return receipt

    def deploy(self, name: str, *args: Any) -> Contract:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.send(f"deploy {name}", factory.constructor(*args), self.accounts[0])
        return bind(self.w3, name, str(receipt["contractAddress"]))

    def warp(self, seconds: int) -> None:
        self.node.increase_time(seconds)
        self.node.mine()


def run() -> dict[str, Any]:
    with AnvilNode(accounts=PLATFORMS + 10, gas_limit=300_000_000) as node:
        b = Bench(node)
        acc = b.accounts
        admin, settlement, guardian, creator, fan = acc[0], acc[1], acc[2], acc[3], acc[4]
        platforms = acc[10 : 10 + PLATFORMS]
        w3 = b.w3
        chain_id = w3.eth.chain_id
        genesis = node.latest_timestamp()
        hardfork = str(node.rpc("anvil_nodeInfo").get("hardFork"))

        # Deployment gas of each contract (a throwaway set just to measure).
        token = b.deploy("TestUSD")
        b.deploy("VoiceRegistry", admin.address, admin.address, admin.address, genesis, EPOCH_S)
        dist_probe = b.deploy(
            "RoyaltyDistributor",
            admin.address,
            settlement.address,
            guardian.address,
            token.address,
            WINDOW_S,
            genesis,
            EPOCH_S,
        )
        b.deploy("PlayEscrow", admin.address, settlement.address, dist_probe.address, DELAY_S)

        d = deploy_all(
            w3,
            admin.address,
            settlement=settlement.address,
            guardian=guardian.address,
            treasury=acc[5].address,
            dust=acc[6].address,
            epoch_length_s=EPOCH_S,
            challenge_window_s=WINDOW_S,
            withdrawal_delay_s=DELAY_S,
            dev_token=True,
        )
        registry = bind(w3, "VoiceRegistry", d.registry)
        escrow = bind(w3, "PlayEscrow", d.escrow)
        dist = bind(w3, "RoyaltyDistributor", d.distributor)
        usd = bind(w3, "TestUSD", d.token)
        reg_domain = registry_domain(chain_id, d.registry)
        esc_domain = escrow_domain(chain_id, d.escrow)

        # ---------------------------------------------------------------- registry
        def terms(nonce: int, artifact: bytes, approval: bool, **kw: int) -> ModelTerms:
            shares = {"creator_bps": 5_000, "fan_bps": 4_000, "platform_bps": 1_000, **kw}
            return ModelTerms(
                creator.address,
                creator.address,
                artifact,
                "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                shares["creator_bps"],
                shares["fan_bps"],
                shares["platform_bps"],
                PRICE_PER_PLAY,
                approval,
                nonce,
                node.latest_timestamp() + 3_600,
            )

        t = terms(0, b"\x01" * 32, False)
        sig = sign_model_terms(bytes(creator.key), reg_domain, t)
        b.send("registerModel", registry.functions.registerModel(t.as_tuple(), sig, b""), admin)
        model_id = registry.functions.modelIdOf(creator.address, t.artifact_hash).call()
        t2 = terms(1, b"\x01" * 32, False, creator_bps=6_000, fan_bps=3_000)
        sig = sign_model_terms(bytes(creator.key), reg_domain, t2)
        b.send("updateTerms", registry.functions.updateTerms(t2.as_tuple(), sig, b""), admin)
        b.send(
            "registerTrack (no approval)",
            registry.functions.registerTrack(model_id, b"\x02" * 32, fan.address, 0, b""),
            settlement,
        )
        t3 = terms(2, b"\x03" * 32, True)
        sig = sign_model_terms(bytes(creator.key), reg_domain, t3)
        registry_tx = registry.functions.registerModel(t3.as_tuple(), sig, b"")
        b.send(None, registry_tx, admin)
        approved_model = registry.functions.modelIdOf(creator.address, t3.artifact_hash).call()
        deadline = node.latest_timestamp() + 3_600
        approval = sign_track_approval(
            bytes(creator.key),
            reg_domain,
            TrackApproval(approved_model, b"\x04" * 32, fan.address, deadline),
        )
        b.send(
            "registerTrack (creator approval)",
            registry.functions.registerTrack(
                approved_model, b"\x04" * 32, fan.address, deadline, approval
            ),
            settlement,
        )
        b.send("retireModel", registry.functions.retireModel(approved_model), creator)

        # ---------------------------------------------------------------- escrow
        epoch_gross = PLAYS * PRICE_PER_PLAY
        per_platform = epoch_gross // PLATFORMS
        channels: list[int] = []
        for i, p in enumerate(platforms):
            label = "openChannel" if i == 0 else None
            receipt = b.send(label, escrow.functions.openChannel(d.token, p.address), p)
            event = escrow.events.ChannelOpened().process_receipt(receipt, errors=DISCARD)[0]
            channels.append(int(event["args"]["channelId"]))
            b.send(None, usd.functions.faucet(p.address, 3 * per_platform), p)
            b.send(None, usd.functions.approve(d.escrow, 3 * per_platform), p)
            b.send(
                "deposit (first)" if i == 0 else None,
                escrow.functions.deposit(channels[-1], 2 * per_platform),
                p,
            )
        b.send("deposit (top-up)", escrow.functions.deposit(channels[0], 1), platforms[0])

        def vouchers(cumulative: int, seq: int, count: int) -> list[Any]:
            out = []
            for channel_id, p in zip(channels[:count], platforms[:count], strict=True):
                v = Voucher(channel_id, cumulative, b"\x55" * 32, seq)
                out.append(v.as_tuple(sign_voucher(bytes(p.key), esc_domain, v)))
            return out

        claim = escrow.functions.claim
        b.send(
            "claim 1 voucher (channel's first)",
            claim(vouchers(per_platform // 2, 1, 1)),
            settlement,
        )
        b.send("claim 1 voucher (steady state)", claim(vouchers(per_platform, 2, 1)), settlement)
        b.send("claim 10 channels (first)", claim(vouchers(per_platform, 3, PLATFORMS)), settlement)
        b.send(
            "claim 10 channels (steady state)",
            claim(vouchers(per_platform * 3 // 2, 4, PLATFORMS)),
            settlement,
        )

        b.send(
            "requestWithdrawal",
            escrow.functions.requestWithdrawal(channels[1], 1_000),
            platforms[1],
        )
        b.warp(DELAY_S)
        b.send("executeWithdrawal", escrow.functions.executeWithdrawal(channels[1]), platforms[1])

        # ---------------------------------------------------------------- distributor
        received = int(dist.functions.totalReceived().call())
        payees: list[str] = [
            Web3.to_checksum_address((0x1000 + i).to_bytes(20, "big")) for i in range(PAYEES)
        ]
        # Cumulative entitlements, a bit uneven, summing to at most what was received.
        first = {p: received // (2 * PAYEES) + (i % 7) for i, p in enumerate(payees)}
        tree1 = PayoutTree(first.items())
        b.warp(EPOCH_S)
        epoch = int(dist.functions.currentEpoch().call()) - 1
        b.send(
            "proposeRoot (first)",
            dist.functions.proposeRoot(epoch, tree1.root, tree1.total(), b"\x01" * 32),
            settlement,
        )
        b.warp(WINDOW_S)
        b.send("activatePendingRoot", dist.functions.activatePendingRoot(), acc[7])
        p0, p1 = payees[0], payees[1]
        b.send(
            "payee claim (first, 14-hash proof)",
            dist.functions.claimFor(p0, first[p0], tree1.proof(p0)),
            acc[7],
        )

        def next_root(
            previous: dict[str, int], label: str | None
        ) -> tuple[dict[str, int], PayoutTree]:
            values = {p: v + received // (8 * PAYEES) for p, v in previous.items()}
            tree = PayoutTree(values.items())
            b.warp(EPOCH_S)
            epoch = int(dist.functions.currentEpoch().call()) - 1
            added = sum(values.values()) - sum(previous.values())
            b.send(
                label, dist.functions.proposeRoot(epoch, tree.root, added, b"\x02" * 32), settlement
            )
            return values, tree

        second, tree2 = next_root(first, "proposeRoot (steady state)")
        b.warp(WINDOW_S)
        b.send(
            "payee claim (repeat payee, also activates the root)",
            dist.functions.claimFor(p0, second[p0], tree2.proof(p0)),
            acc[7],
        )
        b.send(
            "payee claim (payee's first claim, fresh address)",
            dist.functions.claimFor(p1, second[p1], tree2.proof(p1)),
            acc[7],
        )
        third, tree3 = next_root(second, None)
        b.warp(WINDOW_S)
        b.send(None, dist.functions.activatePendingRoot(), acc[7])
        b.send(
            "payee claim (repeat payee)",
            dist.functions.claimFor(p0, third[p0], tree3.proof(p0)),
            acc[7],
        )

        # A vetoed root (guardian) for the record.
        fourth = PayoutTree((p, v + 1) for p, v in third.items())
        b.warp(EPOCH_S)
        epoch = int(dist.functions.currentEpoch().call()) - 1
        b.send(None, dist.functions.proposeRoot(epoch, fourth.root, 0, b"\x03" * 32), settlement)
        b.send("veto", dist.functions.veto(epoch), guardian)

        # Baseline measured in this run: one plain ERC-20 transfer to a fresh address.
        b.send(
            "baseline: ERC-20 transfer (fresh recipient)",
            usd.functions.transfer(acc[8].address, 1),
            platforms[0],
        )
        b.send(
            "baseline: ERC-20 transfer (existing recipient)",
            usd.functions.transfer(acc[8].address, 1),
            platforms[0],
        )

    g = b.gas
    settle = g["claim 10 channels (steady state)"] + g["proposeRoot (steady state)"]
    # Steady state: every payee has claimed before (the first claim of a fresh address also
    # pays for two new storage slots: its claimed counter and its token balance).
    payee_claims = PAYEES * g["payee claim (repeat payee)"]
    splits_for_payees = SPLITS_V1_TWO_RECIPIENTS + SPLITS_V1_PER_EXTRA_RECIPIENT * (PAYEES - 2)
    return {
        "node": {"client": "anvil 1.7.1", "hardfork": hardfork, "evm_version_compiled": "cancun"},
        "gas_per_operation": g,
        "epoch_model": {
            "plays": PLAYS,
            "platforms": PLATFORMS,
            "payees": PAYEES,
            "price_per_play_base_units": PRICE_PER_PLAY,
            "proof_length": len(tree3.proof(p0)),
            "settlement_gas": settle,
            "settlement_gas_per_play": settle / PLAYS,
            "payee_claims_gas_if_all_claim": payee_claims,
            "payee_claims_gas_per_play_if_all_claim": payee_claims / PLAYS,
        },
        "targets": {
            "amortized_settlement_gas_per_play_max": 1,
            "payee_claim_gas_max": 70_000,
            "claim_10_channels_gas_max": 250_000,
            "met": {
                "amortized_per_play": settle / PLAYS <= 1,
                "payee_claim_repeat": g["payee claim (repeat payee)"] <= 70_000,
                "payee_claim_first": g["payee claim (payee's first claim, fresh address)"]
                <= 70_000,
                "claim_10_channels_steady": g["claim 10 channels (steady state)"] <= 250_000,
                "claim_10_channels_first": g["claim 10 channels (first)"] <= 250_000,
            },
        },
        "reference_0xsplits_v1": {
            "distribute_2_recipients": SPLITS_V1_TWO_RECIPIENTS,
            "per_extra_recipient_about": SPLITS_V1_PER_EXTRA_RECIPIENT,
            "one_distribution_to_10000_payees_about": splits_for_payees,
            "naive_push_per_play_3_payees_about": SPLITS_V1_TWO_RECIPIENTS
            + SPLITS_V1_PER_EXTRA_RECIPIENT,
        },
    }


def main() -> None:
    figures = run()
    print(json.dumps(figures, indent=2))
    e, g = figures["epoch_model"], figures["gas_per_operation"]
    repeat = g["payee claim (repeat payee)"]
    first = g["payee claim (payee's first claim, fresh address)"]
    splits = figures["reference_0xsplits_v1"]["naive_push_per_play_3_payees_about"]
    print(
        f"settlement {e['settlement_gas']} gas = {e['settlement_gas_per_play']:.3f} gas/play "
        f"for {PLAYS:,} plays; 10-channel claim {g['claim 10 channels (steady state)']}; "
        f"payee claim {repeat} (first {first}); 0xSplits v1 push split ~{splits} gas per play"
    )


if __name__ == "__main__":
    main()
