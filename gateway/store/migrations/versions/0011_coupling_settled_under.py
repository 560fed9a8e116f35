"""The fingerprint of the mapping definition a coupling's ETags settled under (coupling.settled_under):
an incremental run takes a pair read back at those ETags for in step only when the mapping it runs
has this fingerprint. A run that loaded the mapping before an admin changed its fields may settle
pairs after the change; their ETags then carry the old fingerprint, and a run under the new fields
compares them again. Existing couplings start without one: each is compared once more when next read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString  # type: ignore[attr-defined]


def upgrade() -> None:
    op.add_column("coupling", sa.Column("settled_under", String(), nullable=True))


def downgrade() -> None:
    op.drop_column("coupling", "settled_under")
