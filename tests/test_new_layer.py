"""Adding a layer: its declaration, and the migration Alembic writes from it, make a working layer.

The migration is generated here as `alembic revision --autogenerate` would
write it, run inside a transaction that is rolled back, and the new layer is
then written to as any other: version, place, search text and history must
all follow without a line written by hand.
"""

from __future__ import annotations

import geoalchemy2
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import layers.autogenerate  # noqa: F401  (the trigger comparator)
from layers.base import Layer, Style, enum, name_fields, place_fields
from layers.check import check_layer
from layers.tables import build_table, layer_triggers
from tests.writing import INSIDE

pytestmark = pytest.mark.filterwarnings("ignore:Computed default")  # Alembic cannot compare generated columns

LODGINGS = Layer(
    id="test_lodgings",
    vi="Cơ sở lưu trú",
    en="Lodgings",
    geometry="Point",
    order=90,
    style=Style(color="#4a148c", fill_color="#7b1fa2"),
    fields=(
        *name_fields("Tên cơ sở"),
        enum("kind", "Loại hình", "Kind", [("hotel", "Khách sạn", "Hotel"), ("homestay", "Nhà nghỉ", "Homestay")],
             required=True, filterable=True),
        *place_fields(),
    ),
)


def only_the_new_table(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and reflected and compare_to is None)


def run_generated(operations: Operations, ops) -> None:
    """Run the Python Alembic renders for `ops`, as it would stand in a migration file."""
    # Rendered for a function body (its comment lines are not indented).
    code = "\n".join(line.removeprefix("    ") for line in render_python_code(ops).splitlines())
    exec(compile(code, "<generated migration>", "exec"), {"op": operations, "sa": sa, "geoalchemy2": geoalchemy2})


@pytest.fixture()
def migrated(engine):
    """A connection on which the new layer's generated migration has run; all rolled back afterwards."""
    check_layer(LODGINGS)
    target = sa.MetaData()
    build_table(LODGINGS, target)
    with engine.connect() as conn:
        transaction = conn.begin()
        context = MigrationContext.configure(conn, opts={"include_object": only_the_new_table})
        script = produce_migrations(context, target)
        run_generated(Operations(context), script.upgrade_ops)
        yield conn, context, target, script
        transaction.rollback()


def test_the_generated_migration_creates_the_table_and_every_trigger(migrated):
    conn, context, target, _ = migrated
    present = {r[0] for r in conn.execute(
        text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'test_lodgings'::regclass AND NOT tgisinternal")
    )}
    assert present == set(layer_triggers(LODGINGS)) and len(present) == 5
    assert compare_metadata(context, target) == []  # nothing left to generate


def test_the_new_layer_derives_and_records_like_the_others(migrated):
    conn = migrated[0]
    conn.execute(text("SELECT set_config('vung.user', 'lan', true)"))
    district = conn.execute(text("SELECT name FROM admin_units WHERE code = :c"), {"c": INSIDE}).scalar_one()
    row = conn.execute(
        text(
            "INSERT INTO test_lodgings (name, kind, geom) "
            "SELECT 'Nhà nghỉ Đồng Quê', 'homestay', ST_PointOnSurface(geom) FROM admin_units WHERE code = :c "
            "RETURNING id, version, district, commune, search_text"
        ),
        {"c": INSIDE},
    ).one()
    assert (row.version, row.district, row.search_text.strip()) == (1, district, "nha nghi dong que")
    assert row.commune is not None
    conn.execute(text("UPDATE test_lodgings SET kind = 'hotel' WHERE id = :id"), {"id": row.id})
    history = conn.execute(
        text("SELECT version, operation, username, properties->>'kind' FROM feature_history "
             "WHERE layer = 'test_lodgings' AND feature_id = :id ORDER BY id"),
        {"id": row.id},
    ).all()
    assert [tuple(h) for h in history] == [(1, "create", "lan", "homestay"), (2, "update", "lan", "hotel")]
    with pytest.raises(IntegrityError, match="ck_test_lodgings_kind"), conn.begin_nested():
        conn.execute(text("INSERT INTO test_lodgings (name, kind, geom) VALUES ('x', 'castle', 'SRID=4326;POINT(106.2 20.3)')"))


def test_the_generated_downgrade_removes_it_again(migrated):
    conn, context, _, script = migrated
    run_generated(Operations(context), script.downgrade_ops)
    assert conn.execute(text("SELECT to_regclass('test_lodgings')")).scalar_one() is None
