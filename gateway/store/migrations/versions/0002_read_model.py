"""Read model: typed copies of ERP and CRM records (customers, items, price lists and lines,
salespeople, currencies, units, pricing groups) that the API serves without calling an upstream.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rm_currency",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("symbol", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("amount_decimal_places", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("amount_rounding_precision", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("unit_amount_rounding_precision", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("exchange_rate", sa.Numeric(precision=38, scale=10), nullable=True),
        sa.PrimaryKeyConstraint("side", "id"),
    )
    with op.batch_alter_table("rm_currency", schema=None) as batch_op:
        batch_op.create_index("ix_rm_currency_number", ["number", "side", "id"], unique=False)

    op.create_table(
        "rm_customer",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("address_line2", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("salesperson_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("currency_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("currency_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("default_price_list_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("credit_limit", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("balance_due", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("blocked", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("customer_type_code", sa.Integer(), nullable=True),
        sa.Column("state_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("side", "id"),
    )
    with op.batch_alter_table("rm_customer", schema=None) as batch_op:
        batch_op.create_index("ix_rm_customer_modified_at", ["modified_at", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_customer_name", ["name", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_customer_number", ["number", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_customer_salesperson_code", ["salesperson_code"], unique=False)

    op.create_table(
        "rm_customer_pricing",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("customer_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("price_group_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("discount_group_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("allow_line_discount", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_customer_pricing", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rm_customer_pricing_customer_number"), ["customer_number"], unique=False
        )

    op.create_table(
        "rm_exchange_rate",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("currency_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("starting_date", sa.Date(), nullable=True),
        sa.Column("exchange_rate_amount", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("relational_exchange_rate_amount", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_exchange_rate", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rm_exchange_rate_currency", ["currency_code", "starting_date"], unique=False
        )

    op.create_table(
        "rm_item",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("item_category_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("gtin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("inventory", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("price_includes_tax", sa.Boolean(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("base_unit_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("base_unit_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("product_type_code", sa.Integer(), nullable=True),
        sa.Column("state_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("side", "id"),
    )
    with op.batch_alter_table("rm_item", schema=None) as batch_op:
        batch_op.create_index("ix_rm_item_modified_at", ["modified_at", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_item_name", ["name", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_item_number", ["number", "side", "id"], unique=False)

    op.create_table(
        "rm_item_pricing",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("item_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("discount_group_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sales_unit_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_item_pricing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rm_item_pricing_item_number"), ["item_number"], unique=False)

    op.create_table(
        "rm_item_unit",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("item_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("qty_per_unit", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_item_unit", schema=None) as batch_op:
        batch_op.create_index("ix_rm_item_unit_item_code", ["item_number", "code"], unique=False)

    op.create_table(
        "rm_location",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_location", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rm_location_code"), ["code"], unique=False)

    op.create_table(
        "rm_price_line",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("price_list_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("source_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("asset_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("asset_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("currency_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("starting_date", sa.Date(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("minimum_quantity", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("amount_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("line_discount_percent", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("allow_line_discount", sa.Boolean(), nullable=False),
        sa.Column("price_includes_tax", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_price_line", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rm_price_line_asset", ["asset_type", "asset_no", "price_list_code", "line_no"], unique=False
        )
        batch_op.create_index("ix_rm_price_line_list", ["price_list_code", "line_no"], unique=False)
        batch_op.create_index(
            "ix_rm_price_line_source",
            ["source_type", "source_no", "price_list_code", "line_no"],
            unique=False,
        )

    op.create_table(
        "rm_price_list",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("currency_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("currency_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("starting_date", sa.Date(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("price_includes_tax", sa.Boolean(), nullable=False),
        sa.Column("allow_line_discount", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("side", "id"),
    )
    with op.batch_alter_table("rm_price_list", schema=None) as batch_op:
        batch_op.create_index("ix_rm_price_list_modified_at", ["modified_at", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_price_list_name", ["name", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_price_list_number", ["number", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_price_list_source", ["source_type", "source_no"], unique=False)

    op.create_table(
        "rm_pricing_group",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("allow_line_discount", sa.Boolean(), nullable=False),
        sa.Column("price_includes_tax", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_pricing_group", schema=None) as batch_op:
        batch_op.create_index("ix_rm_pricing_group_kind_code", ["kind", "code"], unique=False)

    op.create_table(
        "rm_salesperson",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("job_title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("integration_user", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("side", "id"),
    )
    with op.batch_alter_table("rm_salesperson", schema=None) as batch_op:
        batch_op.create_index("ix_rm_salesperson_modified_at", ["modified_at", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_salesperson_name", ["name", "side", "id"], unique=False)
        batch_op.create_index("ix_rm_salesperson_number", ["number", "side", "id"], unique=False)

    op.create_table(
        "rm_unit",
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("international_standard_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("symbol", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rm_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rm_unit_code"), ["code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rm_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rm_unit_code"))

    op.drop_table("rm_unit")
    with op.batch_alter_table("rm_salesperson", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_salesperson_number")
        batch_op.drop_index("ix_rm_salesperson_name")
        batch_op.drop_index("ix_rm_salesperson_modified_at")

    op.drop_table("rm_salesperson")
    with op.batch_alter_table("rm_pricing_group", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_pricing_group_kind_code")

    op.drop_table("rm_pricing_group")
    with op.batch_alter_table("rm_price_list", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_price_list_source")
        batch_op.drop_index("ix_rm_price_list_number")
        batch_op.drop_index("ix_rm_price_list_name")
        batch_op.drop_index("ix_rm_price_list_modified_at")

    op.drop_table("rm_price_list")
    with op.batch_alter_table("rm_price_line", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_price_line_source")
        batch_op.drop_index("ix_rm_price_line_list")
        batch_op.drop_index("ix_rm_price_line_asset")

    op.drop_table("rm_price_line")
    with op.batch_alter_table("rm_location", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rm_location_code"))

    op.drop_table("rm_location")
    with op.batch_alter_table("rm_item_unit", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_item_unit_item_code")

    op.drop_table("rm_item_unit")
    with op.batch_alter_table("rm_item_pricing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rm_item_pricing_item_number"))

    op.drop_table("rm_item_pricing")
    with op.batch_alter_table("rm_item", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_item_number")
        batch_op.drop_index("ix_rm_item_name")
        batch_op.drop_index("ix_rm_item_modified_at")

    op.drop_table("rm_item")
    with op.batch_alter_table("rm_exchange_rate", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_exchange_rate_currency")

    op.drop_table("rm_exchange_rate")
    with op.batch_alter_table("rm_customer_pricing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rm_customer_pricing_customer_number"))

    op.drop_table("rm_customer_pricing")
    with op.batch_alter_table("rm_customer", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_customer_salesperson_code")
        batch_op.drop_index("ix_rm_customer_number")
        batch_op.drop_index("ix_rm_customer_name")
        batch_op.drop_index("ix_rm_customer_modified_at")

    op.drop_table("rm_customer")
    with op.batch_alter_table("rm_currency", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_currency_number")

    op.drop_table("rm_currency")
