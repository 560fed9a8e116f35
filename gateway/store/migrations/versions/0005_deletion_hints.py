"""ERP deletions noticed by BC webhooks, waiting for their mapping's next erp_to_crm run.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString  # type: ignore[attr-defined]


def upgrade() -> None:
    op.create_table(
        "sync_deletion_hint",
        sa.Column("mapping", String(), nullable=False),
        sa.Column("erp_id", String(), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mapping", "erp_id"),
    )


def downgrade() -> None:
    op.drop_table("sync_deletion_hint")
