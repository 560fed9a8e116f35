"""Core coupling store: couplings, sync jobs, job errors, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", String(), nullable=False),
        sa.Column("name", String(), nullable=True),
        sa.Column("prefix", String(), nullable=False),
        sa.Column("key_hash", String(), nullable=False),
        sa.Column("role", String(), nullable=False),
        sa.Column("salesperson_code", String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_key_key_hash", "api_key", ["key_hash"], unique=True)

    op.create_table(
        "coupling",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mapping", String(), nullable=False),
        sa.Column("erp_id", String(), nullable=False),
        sa.Column("crm_id", String(), nullable=False),
        sa.Column("erp_key", String(), nullable=True),
        sa.Column("crm_key", String(), nullable=True),
        sa.Column("state", String(), nullable=False),
        sa.Column("erp_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("crm_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erp_last_result", String(), nullable=True),
        sa.Column("erp_last_message", String(), nullable=True),
        sa.Column("crm_last_result", String(), nullable=True),
        sa.Column("crm_last_message", String(), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("last_synced", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mapping", "erp_id", name="uq_coupling_mapping_erp_id"),
        sa.UniqueConstraint("mapping", "crm_id", name="uq_coupling_mapping_crm_id"),
    )
    op.create_index("ix_coupling_mapping_erp_key", "coupling", ["mapping", "erp_key"])
    op.create_index("ix_coupling_mapping_crm_key", "coupling", ["mapping", "crm_key"])
    op.create_index("ix_coupling_mapping_state", "coupling", ["mapping", "state"])

    op.create_table(
        "sync_job",
        sa.Column("id", String(), nullable=False),
        sa.Column("mapping", String(), nullable=False),
        sa.Column("direction", String(), nullable=False),
        sa.Column("type", String(), nullable=False),
        sa.Column("status", String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("modified", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("coupled", sa.Integer(), nullable=False),
        sa.Column("uncoupled", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("message", String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_job_mapping_created_at", "sync_job", ["mapping", "created_at"])
    op.create_index("ix_sync_job_status", "sync_job", ["status"])

    op.create_table(
        "job_error",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", String(), nullable=False),
        sa.Column("mapping", String(), nullable=False),
        sa.Column("erp_id", String(), nullable=True),
        sa.Column("crm_id", String(), nullable=True),
        sa.Column("erp_key", String(), nullable=True),
        sa.Column("crm_key", String(), nullable=True),
        sa.Column("field", String(), nullable=True),
        sa.Column("reason", String(), nullable=False),
        sa.Column("cause", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("status", String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["sync_job.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_error_job_id", "job_error", ["job_id"])
    op.create_index("ix_job_error_erp_id", "job_error", ["erp_id"])
    op.create_index("ix_job_error_crm_id", "job_error", ["crm_id"])
    op.create_index("ix_job_error_mapping_status", "job_error", ["mapping", "status"])


def downgrade() -> None:
    op.drop_table("job_error")
    op.drop_table("sync_job")
    op.drop_table("coupling")
    op.drop_table("api_key")
