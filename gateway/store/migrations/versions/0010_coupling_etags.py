"""The ETag of each record of a coupling when the pair last settled (coupling.erp_etag, crm_etag):
an incremental run skips a pair whose records came back with exactly these ETags instead of
loading and comparing it again (the first round after a full sync reads every record it wrote).
Existing couplings start without them and get them the next time they settle.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString  # type: ignore[attr-defined]


def upgrade() -> None:
    op.add_column("coupling", sa.Column("erp_etag", String(), nullable=True))
    op.add_column("coupling", sa.Column("crm_etag", String(), nullable=True))


def downgrade() -> None:
    op.drop_column("coupling", "crm_etag")
    op.drop_column("coupling", "erp_etag")
