"""Let the importer derive area, place and history set-based.

Row triggers look a feature's district and commune up one row at a time; for
an import of 100,000 rows one join does the same work several times faster.
In a transaction where the importer sets vung.bulk = 'on' (transaction-local,
set only by server code) the derive and history triggers do not fire, and the
importer's own statements (layers/imports.py) compute exactly what they would.
The condition sits in each trigger's WHEN clause, so a skipped trigger costs
no function call at all.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
WITH_AREA = ("farming_zones", "aquaculture_areas")
NOT_BULK = "WHEN (current_setting('vung.bulk', true) IS DISTINCT FROM 'on')"


def triggers() -> list[tuple[str, str, str]]:
    """(table, trigger name, definition after the name) of every trigger the bulk path skips."""
    out = []
    for table in EDITABLE:
        out.append((table, f"{table}_place", f"BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW {{when}} EXECUTE FUNCTION vung_derive_place()"))
        out.append((table, f"{table}_history", f"AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW {{when}} EXECUTE FUNCTION vung_record_history()"))
    for table in WITH_AREA:
        out.append((table, f"{table}_area", f"BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW {{when}} EXECUTE FUNCTION vung_derive_area()"))
    return out


def recreate(when: str) -> None:
    for table, name, definition in triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"CREATE TRIGGER {name} {definition.format(when=when)}")


def upgrade() -> None:
    recreate(NOT_BULK)


def downgrade() -> None:
    recreate("")
