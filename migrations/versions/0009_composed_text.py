"""Text stored with composed letters (NFC) where it was stored decomposed.

Writes now keep one spelling of each letter (layers.validate.check_value):
"ộ" typed on a Mac or pasted from a web form arrives as o and two marks,
which no key, search or filter would match to the usual single letter. Rows
written before may hold such text; it is composed here, once, so that a
keyed import of the same names finds them. The text reads the same, so this
is no edit: the layers' own triggers (history, version, place) stand aside.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
ENABLE_MODES = {"O": "", "A": "ALWAYS", "R": "REPLICA"}  # pg_trigger.tgenabled -> ALTER TABLE ... ENABLE <mode>


def upgrade() -> None:
    bind = op.get_bind()
    for table in EDITABLE:
        columns = bind.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = :table AND data_type IN ('text', 'character varying') AND is_generated = 'NEVER'"
        ), {"table": table}).scalars().all()
        if not columns:
            continue
        assignments = ", ".join(f"{c} = normalize({c}, NFC)" for c in columns)
        decomposed = " OR ".join(f"{c} IS NOT NFC NORMALIZED" for c in columns)
        # The triggers that would fire, each put back as it was (ENABLE ALWAYS stays so; one disabled stays off).
        firing = bind.execute(sa.text(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = CAST(:table AS regclass) "
            "AND NOT tgisinternal AND tgenabled <> 'D'"
        ), {"table": table}).all()
        for name, _ in firing:
            op.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')
        op.execute(f"UPDATE {table} SET {assignments} WHERE {decomposed}")
        for name, mode in firing:
            op.execute(f'ALTER TABLE {table} ENABLE {ENABLE_MODES[mode]} TRIGGER "{name}"')


def downgrade() -> None:
    pass  # composed text reads as the decomposed did: there is nothing to take back
