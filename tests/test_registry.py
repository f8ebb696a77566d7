"""The layer declarations: consistent, checked, and matched by the migrations."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import layers.autogenerate  # noqa: F401  (compare_metadata compares triggers too)
from app.cli import alembic_config
from gis.sql import MAX_PROPERTIES
from layers import REGISTRY, get_layer, public_layers
from layers.base import PLACE_FIELDS, SYSTEM_FIELDS, Choice, Field, area_field, enum
from layers.base import text as text_field
from layers.check import LayerDeclarationError, check_layer
from layers.tables import TABLES, layer_triggers, metadata

LAYERS = list(REGISTRY.values())
LAYER_IDS = [layer.id for layer in LAYERS]
# Written out here rather than imported, so a loosened rule in layers/check.py is caught.
SQL_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
EXPECTED_LAYERS = {"farming_zones", "aquaculture_areas", "craft_villages", "relics", "admin_units"}


def enum_fields():
    return [(layer, f) for layer in LAYERS for f in layer.fields if f.kind == "enum"]


# --- declarations ----------------------------------------------------------


def test_the_contract_layers_are_declared():
    assert EXPECTED_LAYERS <= set(REGISTRY)
    for layer_id in EXPECTED_LAYERS:
        assert get_layer(layer_id) is REGISTRY[layer_id]
    assert get_layer("no_such_layer") is None


def test_registry_keys_are_the_layer_ids():
    for key, layer in REGISTRY.items():
        assert key == layer.id


def test_public_layers_are_the_public_ones_in_order():
    public = public_layers()
    assert [layer.id for layer in public] == [layer.id for layer in LAYERS if layer.public]
    orders = [layer.order for layer in LAYERS]
    assert orders == sorted(orders)


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_every_field_is_a_column(layer):
    table = TABLES[layer.id]
    columns = set(table.c.keys())
    for name in layer.field_names:
        assert name in columns, f"{layer.id}.{name} has no column"
    assert {"id", "geom"} <= columns
    if layer.editable:
        assert set(SYSTEM_FIELDS) <= columns
    # No column the declaration does not explain.
    extra = columns - set(layer.field_names) - set(SYSTEM_FIELDS) - {"id", "geom", "search_text"}
    assert not extra


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_required_fields_are_not_nullable(layer):
    table = TABLES[layer.id]
    for f in layer.fields:
        assert table.c[f.name].nullable is (not f.required), f.name


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_ids_and_field_names_are_sql_identifiers(layer, engine):
    with engine.connect() as conn:
        reserved = {r[0] for r in conn.execute(text("SELECT word FROM pg_get_keywords() WHERE catcode = 'R'"))}
    for name in (layer.id, *layer.field_names):
        assert SQL_IDENTIFIER.match(name), name
        assert len(name) <= 63, name
        assert name not in reserved, f"{name} is a reserved word in PostgreSQL"


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_titles_and_labels_in_both_languages(layer):
    assert layer.vi and layer.en
    assert layer.title("vi") == layer.vi and layer.title("en") == layer.en
    for f in layer.fields:
        assert f.vi.strip() and f.en.strip(), f.name
        assert f.label("en") == f.en and f.label("vi") == f.vi


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_every_layer_has_a_required_searchable_name(layer):
    name = layer.field("name")
    assert name is not None and name.required and name.searchable


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_derived_fields_are_declared_and_computed(layer):
    if layer.derive_place:
        for name in PLACE_FIELDS:
            assert layer.field(name) is not None and layer.field(name).computed, name
    if layer.derive_area:
        assert layer.field("area_ha").computed and layer.field("area_ha").unit == "ha"
    if layer.temporal:
        for name in layer.temporal:
            assert layer.field(name).kind in ("date",), name


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_features_fit_in_one_json_object(layer):
    assert len(layer.property_names) <= MAX_PROPERTIES


@pytest.mark.parametrize(("layer", "f"), enum_fields(), ids=lambda v: getattr(v, "id", None) or getattr(v, "name", ""))
def test_enum_choices_have_both_labels(layer, f):
    assert f.choices, f"{layer.id}.{f.name} has no choices"
    values = f.choice_values()
    assert len(set(values)) == len(values), "duplicate choice values"
    for choice in f.choices:
        assert isinstance(choice, Choice)
        assert SQL_IDENTIFIER.match(choice.value), choice.value
        assert choice.vi.strip() and choice.en.strip(), choice.value
        assert choice.label("vi") == choice.vi and choice.label("en") == choice.en


def test_non_enum_fields_have_no_choices():
    for layer in LAYERS:
        for f in layer.fields:
            if f.kind != "enum":
                assert not f.choices, f"{layer.id}.{f.name}"


# --- check_layer -----------------------------------------------------------


@pytest.fixture()
def good():
    """A valid layer to break in one way at a time."""
    return replace(REGISTRY["farming_zones"], id="test_layer")


def test_a_valid_declaration_passes(good):
    check_layer(good)
    for layer in LAYERS:
        check_layer(layer)


def with_fields(layer, *fields):
    return replace(layer, fields=layer.fields + tuple(fields))


BAD = {
    "duplicate field": lambda g: with_fields(g, text_field("name", "Tên", "Name")),
    "enum without choices": lambda g: with_fields(g, Field("kind", "enum", "Loại", "Kind")),
    "choices on a text field": lambda g: with_fields(g, Field("kind", "text", "L", "K", choices=(Choice("a", "a", "a"),))),
    "reserved name id": lambda g: with_fields(g, text_field("id", "Mã", "Id")),
    "reserved name geom": lambda g: with_fields(g, text_field("geom", "Hình", "Geometry")),
    "reserved name bbox": lambda g: with_fields(g, text_field("bbox", "Khung", "Box")),
    "reserved name limit": lambda g: with_fields(g, text_field("limit", "Giới hạn", "Limit")),
    "system name version": lambda g: with_fields(g, Field("version", "integer", "Phiên bản", "Version")),
    "system name created_at": lambda g: with_fields(g, Field("created_at", "date", "Tạo", "Created")),
    "upper-case field": lambda g: with_fields(g, text_field("Crop2", "C", "C")),
    "field with a dash": lambda g: with_fields(g, text_field("crop-2", "C", "C")),
    "field with a quote": lambda g: with_fields(g, text_field("x'; drop table relics; --", "C", "C")),
    "field starting with a digit": lambda g: with_fields(g, text_field("2crop", "C", "C")),
    "field name too long": lambda g: with_fields(g, text_field("a" * 64, "C", "C")),
    "derive_area without area_ha": lambda g: replace(g, fields=tuple(f for f in g.fields if f.name != "area_ha")),
    "derive_place without district": lambda g: replace(g, fields=tuple(f for f in g.fields if f.name != "district")),
    "derive_place without commune_code": lambda g: replace(g, fields=tuple(f for f in g.fields if f.name != "commune_code")),
    "temporal on undeclared fields": lambda g: replace(g, temporal=("valid_from", "valid_to")),
    "outline filter on an unknown field": lambda g: replace(g, outline_filter={"level": "district"}),
    "outline filter on a field not filterable": lambda g: replace(g, outline_filter={"season": "x"}),
    "no name field": lambda g: replace(g, fields=tuple(f for f in g.fields if f.name != "name")),
    "upper-case id": lambda g: replace(g, id="Farming"),
    "id with a space": lambda g: replace(g, id="farming zones"),
    "id starting with a digit": lambda g: replace(g, id="1zones"),
    "empty id": lambda g: replace(g, id=""),
}


@pytest.mark.parametrize("breakage", list(BAD), ids=list(BAD))
def test_check_layer_rejects(good, breakage):
    with pytest.raises(LayerDeclarationError) as err:
        check_layer(BAD[breakage](good))
    assert str(err.value).startswith("layer ")


def test_area_without_derivation_is_allowed_when_declared(good):
    # derive_area off and no area field: a plain layer, still valid.
    plain = replace(good, derive_area=False, fields=tuple(f for f in good.fields if f.name != "area_ha"))
    check_layer(plain)
    check_layer(replace(plain, fields=plain.fields + (area_field(),)))
    check_layer(with_fields(plain, enum("kind2", "L", "K", [("a", "A", "A")])))


# --- migrations against declarations --------------------------------------


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS's own tables (spatial_ref_sys, ...) are not ours.
    return not (type_ == "table" and reflected and compare_to is None)


@pytest.mark.filterwarnings("ignore:Computed default")
def test_alembic_check_finds_no_pending_changes(engine, database_url):
    command.check(alembic_config(database_url))


@pytest.mark.filterwarnings("ignore:Computed default")
def test_compare_metadata_with_types_is_empty(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True, "compare_server_default": True}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diff = compare_metadata(context, metadata)
    assert diff == []


def test_database_is_at_head(engine, database_url):
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    assert current == heads


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_enum_check_constraints_list_exactly_the_choices(layer, engine):
    """Alembic does not compare CHECK constraints, so compare them here."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c "
                "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = :t AND c.contype = 'c'"
            ),
            {"t": layer.id},
        ).all()
    found = {r.conname: set(re.findall(r"'([^']*)'", r.definition)) for r in rows}
    for f in layer.fields:
        if f.kind == "enum":
            assert found.get(f"ck_{layer.id}_{f.name}") == set(f.choice_values()), f.name


def generation_expression(engine, table: str, column: str) -> str | None:
    """How the database computes a generated column (None for a plain or missing one): Alembic cannot compare these."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT generation_expression FROM information_schema.columns "
                "WHERE table_name = :t AND column_name = :c"
            ),
            {"t": table, "c": column},
        ).scalar_one_or_none()


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_search_column_folds_exactly_the_searchable_fields(layer, engine):
    expression = generation_expression(engine, layer.id, "search_text")
    if not layer.searchable:
        assert expression is None
        return
    assert "vung_fold" in expression
    referenced = {name for name in layer.field_names if re.search(rf"\b{name}\b", expression)}
    assert referenced == {f.name for f in layer.searchable}


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_triggers_follow_the_declaration(layer, engine):
    """Exactly the triggers layers.tables.layer_triggers asks for, each calling its function."""
    with engine.connect() as conn:
        found = dict(
            conn.execute(
                text(
                    "SELECT g.tgname, p.proname FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid "
                    "JOIN pg_proc p ON p.oid = g.tgfoid WHERE t.relname = :t AND NOT g.tgisinternal"
                ),
                {"t": layer.id},
            ).all()
        )
    wanted = layer_triggers(layer)
    assert set(found) == set(wanted)
    assert all(f"EXECUTE FUNCTION {found[name]}()" in wanted[name] for name in found)
    assert ("vung_derive_place" in found.values()) is (layer.derive_place and layer.editable)
    assert ("vung_record_history_rows" in found.values()) is layer.editable


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_area_is_generated_where_derived(layer, engine):
    """A derived area is measured on the geography, by the database itself."""
    expression = generation_expression(engine, layer.id, "area_ha")
    if not layer.derive_area:
        assert expression is None
        return
    assert re.search(r"st_area\(\(geom\)::geography", expression, re.I), expression


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_geometry_column_type_and_srid(layer, engine):
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT type, srid FROM geometry_columns WHERE f_table_name = :t AND f_geometry_column = 'geom'"),
            {"t": layer.id},
        ).one()
    assert row.srid == 4326
    assert row.type == layer.geometry.upper()
