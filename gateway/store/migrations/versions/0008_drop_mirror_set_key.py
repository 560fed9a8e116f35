"""Drop ix_sync_mirror_set_key (side, entity_set, key): no query looks mirror rows up by key, the
primary key (side, entity_set, id) serves every scan of one entity set, and on tables without
statistics (right after a full sync's bulk writes, autovacuum off or not yet round) the planner
took its two leading equalities for selective enough to look ids up through it: one pass over the
whole entity set per id loaded (see gateway.store.planner). One index less to write per row, too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_sync_mirror_set_key", table_name="sync_mirror")


def downgrade() -> None:
    op.create_index("ix_sync_mirror_set_key", "sync_mirror", ["side", "entity_set", "key"], unique=False)
