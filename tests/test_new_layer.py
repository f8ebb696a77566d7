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
from layers.base import Layer, Style, area_field, enum, name_fields, place_fields
from layers.check import check_layer
from layers.tables import build_table, layer_triggers
from tests.writing import INSIDE

pytestmark = pytest.mark.filterwarnings("ignore:Computed default")  # Alembic cannot compare generated columns

ORCHARDS = Layer(
    id="test_orchards",
    vi="Vùng cây ăn quả",
    en="Orchards",
    geometry="MultiPolygon",
    order=90,
    derive_area=True,
    style=Style(color="#4a148c", fill_color="#7b1fa2"),
    fields=(
        *name_fields("Tên vườn"),
        enum("fruit", "Cây", "Fruit", [("longan", "Nhãn", "Longan"), ("lychee", "Vải", "Lychee")],
             required=True, filterable=True),
        area_field(),
        *place_fields(),
    ),
)
BOWTIE = "SRID=4326;MULTIPOLYGON(((106.30 20.20, 106.31 20.21, 106.31 20.20, 106.30 20.21, 106.30 20.20)))"


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
    check_layer(ORCHARDS)
    target = sa.MetaData()
    build_table(ORCHARDS, target)
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
        text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'test_orchards'::regclass AND NOT tgisinternal")
    )}
    assert present == set(layer_triggers(ORCHARDS)) and len(present) == 5
    assert "info=" not in render_python_code(migrated[3].upgrade_ops)  # the triggers are written once, as SQL
    assert compare_metadata(context, target) == []  # nothing left to generate


def test_the_new_layer_derives_and_records_like_the_others(migrated):
    conn = migrated[0]
    conn.execute(text("SELECT set_config('vung.user', 'lan', true)"))
    district = conn.execute(text("SELECT name FROM admin_units WHERE code = :c"), {"c": INSIDE}).scalar_one()
    row = conn.execute(
        text(
            "INSERT INTO test_orchards (name, fruit, geom) "
            "SELECT 'Vườn nhãn Đồng Quê', 'longan', ST_Multi(ST_Buffer(ST_PointOnSurface(geom), 0.002)) "
            "FROM admin_units WHERE code = :c "
            "RETURNING id, version, district, commune, search_text, area_ha, "
            "round((ST_Area(geom::geography) / 10000)::numeric, 4)::float8 AS measured"
        ),
        {"c": INSIDE},
    ).one()
    assert (row.version, row.district, row.search_text.strip()) == (1, district, "vuon nhan dong que")
    assert row.commune is not None
    assert row.area_ha == row.measured and row.area_ha > 1
    conn.execute(text("UPDATE test_orchards SET fruit = 'lychee' WHERE id = :id"), {"id": row.id})
    history = conn.execute(
        text("SELECT version, operation, username, properties->>'fruit' FROM feature_history "
             "WHERE layer = 'test_orchards' AND feature_id = :id ORDER BY id"),
        {"id": row.id},
    ).all()
    assert [tuple(h) for h in history] == [(1, "create", "lan", "longan"), (2, "update", "lan", "lychee")]
    square = "SRID=4326;MULTIPOLYGON(((106.2 20.3, 106.201 20.3, 106.201 20.301, 106.2 20.301, 106.2 20.3)))"
    for values, check in [(f"'x', 'durian', '{square}'", "ck_test_orchards_fruit"),
                          (f"'x', 'longan', '{BOWTIE}'", "ck_test_orchards_geom_valid")]:
        with pytest.raises(IntegrityError, match=check), conn.begin_nested():
            conn.execute(text(f"INSERT INTO test_orchards (name, fruit, geom) VALUES ({values})"))


def test_the_generated_downgrade_removes_it_again(migrated):
    conn, context, _, script = migrated
    run_generated(Operations(context), script.downgrade_ops)
    assert conn.execute(text("SELECT to_regclass('test_orchards')")).scalar_one() is None
