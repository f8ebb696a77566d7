"""Data migrations, run on a real database inside a transaction that is rolled back."""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def migration(name: str):
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_text_stored_decomposed_is_composed_without_a_new_version(conn):
    """A name typed on a Mac before writes were composed: after 0009 a keyed import matches it, and
    nothing records it as an edit."""
    name = "zz-migration Vùng lúa Hải Hậu Độc Lập"
    decomposed = unicodedata.normalize("NFD", name)
    feature = conn.execute(text(
        "INSERT INTO relics (name, kind, rank, description, geom) "
        "VALUES (:n, 'temple', 'national', :n, ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326)) RETURNING id"
    ), {"n": decomposed}).scalar_one()
    versions = conn.execute(text("SELECT count(*) FROM feature_history WHERE feature_id = :id AND layer = 'relics'"),
                            {"id": feature}).scalar_one()
    with Operations.context(MigrationContext.configure(conn)):
        migration("0009_composed_text").upgrade()
    row = conn.execute(text("SELECT name, description, version, search_text FROM relics WHERE id = :id"),
                       {"id": feature}).one()
    assert (row.name, row.description, row.version) == (name, name, 1)
    assert "vung lua hai hau doc lap" in row.search_text
    after = conn.execute(text("SELECT count(*) FROM feature_history WHERE feature_id = :id AND layer = 'relics'"),
                         {"id": feature}).scalar_one()
    assert after == versions
    triggers = conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'relics'::regclass "
                                 "AND NOT tgisinternal AND tgenabled = 'D'")).scalar_one()
    assert triggers == 0  # all enabled again


def test_the_composing_migration_leaves_each_trigger_as_it_found_it(conn):
    """One an administrator set to fire always stays so; one switched off stays off."""
    conn.execute(text("ALTER TABLE relics ENABLE ALWAYS TRIGGER relics_place"))
    conn.execute(text("ALTER TABLE craft_villages DISABLE TRIGGER craft_villages_touch"))
    before = dict(conn.execute(text("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal")).all())
    with Operations.context(MigrationContext.configure(conn)):
        migration("0009_composed_text").upgrade()
    after = dict(conn.execute(text("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal")).all())
    assert after == before and (after["relics_place"], after["craft_villages_touch"]) == ("A", "D")
