"""The importer's bulk path skips the touch trigger too.

A new feature's created_at, updated_at and version are the columns'
defaults (now(), now(), 1), which is what vung_touch() sets on an insert;
an update by key sets version + 1 and updated_at itself. Calling that
PL/pgSQL function for every row cost about a second of a 100,000-row
import, so in a transaction with vung.bulk = 'on' (set only by
layers/imports.py, around its INSERT and UPDATE) the importer does the work.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
NOT_BULK = "WHEN (current_setting('vung.bulk', true) IS DISTINCT FROM 'on')"


def recreate(when: str) -> None:
    for table in EDITABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_touch ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW {when} EXECUTE FUNCTION vung_touch()"
        )


def upgrade() -> None:
    recreate(NOT_BULK)


def downgrade() -> None:
    recreate("")
