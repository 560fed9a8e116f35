"""Sync engine: mappings and field mappings as data, the mirror of both upstreams, watermarks per
mapping and direction, and ERP create intents.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString  # type: ignore[attr-defined]


def upgrade() -> None:
    op.create_table(
        "sync_mapping",
        sa.Column("name", String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("erp_entity", String(), nullable=False),
        sa.Column("crm_entity", String(), nullable=False),
        sa.Column("direction", String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("conflict_policy", String(), nullable=False),
        sa.Column("deletion_policy", String(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "sync_field_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mapping", String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("erp_field", String(), nullable=True),
        sa.Column("crm_field", String(), nullable=True),
        sa.Column("direction", String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["mapping"], ["sync_mapping.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sync_field_mapping_mapping_position", "sync_field_mapping", ["mapping", "position"], unique=False
    )
    op.create_table(
        "sync_mirror",
        sa.Column("side", String(length=3), nullable=False),
        sa.Column("entity_set", String(), nullable=False),
        sa.Column("id", String(), nullable=False),
        sa.Column("key", String(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("etag", String(), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("generation", String(), nullable=True),
        sa.Column("mirrored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("side", "entity_set", "id"),
    )
    op.create_index("ix_sync_mirror_set_key", "sync_mirror", ["side", "entity_set", "key"], unique=False)
    op.create_table(
        "sync_watermark",
        sa.Column("mapping", String(), nullable=False),
        sa.Column("direction", String(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signpost", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delta_link", String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mapping", "direction"),
    )
    op.create_table(
        "sync_intent",
        sa.Column("mapping", String(), nullable=False),
        sa.Column("crm_id", String(), nullable=False),
        sa.Column("erp_number", String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mapping", "crm_id"),
    )


def downgrade() -> None:
    op.drop_table("sync_intent")
    op.drop_table("sync_watermark")
    op.drop_index("ix_sync_mirror_set_key", table_name="sync_mirror")
    op.drop_table("sync_mirror")
    op.drop_index("ix_sync_field_mapping_mapping_position", table_name="sync_field_mapping")
    op.drop_table("sync_field_mapping")
    op.drop_table("sync_mapping")
