"""money: tracks on-chain, channel meters, plays by voucher, ledger, track earnings

Tracks get their relay transaction, approval deadline and a 'retired' status; plays carry the
voucher (channel, seq, cumulative) and usage-log position that charged them; channel meters
hold each channel's last accepted voucher and play-log frontier; the double-entry ledger and
per-epoch track figures back the settlement views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import studio.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_cursors")),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("created_at", studio.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_ledger_transactions_kind")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("account", sa.String(length=120), nullable=False),
        sa.Column("amount", studio.db.types.TokenAmount(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_account"), ["account"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "track_earnings",
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("track_hash", sa.String(length=66), nullable=False),
        sa.Column("gross", studio.db.types.TokenAmount(), nullable=False),
        sa.Column("creator_amount", studio.db.types.TokenAmount(), nullable=False),
        sa.Column("fan_amount", studio.db.types.TokenAmount(), nullable=False),
        sa.Column("platform_amount", studio.db.types.TokenAmount(), nullable=False),
        sa.ForeignKeyConstraint(
            ["epoch"], ["epochs.number"], name=op.f("fk_track_earnings_epoch_epochs")
        ),
        sa.PrimaryKeyConstraint("epoch", "track_hash", name=op.f("pk_track_earnings")),
    )
    op.create_table(
        "channel_meters",
        sa.Column("channel_id", sa.String(length=78), nullable=False),
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("charged", studio.db.types.TokenAmount(), nullable=False),
        sa.Column("last_digest", sa.String(length=66), nullable=True),
        sa.Column("last_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("usage_size", sa.BigInteger(), nullable=False),
        sa.Column("usage_peaks", sa.JSON(), nullable=False),
        sa.Column("updated_at", studio.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_channel_meters_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_meters")),
        sa.UniqueConstraint("platform_id", name=op.f("uq_channel_meters_platform_id")),
    )
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.String(length=78), nullable=False))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=False))
        batch_op.add_column(sa.Column("cumulative", studio.db.types.TokenAmount(), nullable=False))
        batch_op.add_column(sa.Column("timestamp", sa.BigInteger(), nullable=False))
        batch_op.add_column(sa.Column("usage_index", sa.BigInteger(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_plays_channel_id"), ["channel_id", "seq"])

    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_deadline", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("tx_hash", sa.String(length=66), nullable=True))
        batch_op.add_column(
            sa.Column("retired_at", studio.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_tracks_content_sha256"), ["content_sha256"]
        )
        batch_op.drop_constraint(batch_op.f("ck_tracks_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_tracks_status"),
            "status IN ('draft', 'pending_approval', 'published', 'rejected', 'retired')",
        )


def downgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_tracks_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_tracks_status"),
            "status IN ('draft', 'pending_approval', 'published', 'rejected')",
        )
        batch_op.drop_constraint(batch_op.f("uq_tracks_content_sha256"), type_="unique")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("tx_hash")
        batch_op.drop_column("approval_deadline")

    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_plays_channel_id"), type_="unique")
        batch_op.drop_column("usage_index")
        batch_op.drop_column("timestamp")
        batch_op.drop_column("cumulative")
        batch_op.drop_column("seq")
        batch_op.drop_column("channel_id")

    op.drop_table("channel_meters")
    op.drop_table("track_earnings")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_account"))

    op.drop_table("ledger_entries")
    op.drop_table("ledger_transactions")
    op.drop_table("chain_cursors")
