"""Set-based statements of the importer: a staging table, bulk checks, the load; the import log and undo.

Rows arrive by one COPY into a temporary table, which judges each as it
comes; the checks across rows (overlaps, repeated keys, districts, ids and
versions) then run on all of them at once, and the good rows move into the
layer in one UPDATE (by key) and one INSERT ... SELECT. The layer measures
their area (a generated column) and its statement triggers write their
history, as for any write; place and version are set here, in one join,
while the layer's row triggers stand aside (migrations 0003, 0006). Every
committed import is logged (table imports, migration 0008), which is how
undo_import finds and takes it back; import jobs let both run beside a request.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from gis import sql
from layers import REGISTRY
from layers.accounts import outside_districts
from layers.base import Layer
from layers.edit import lock_overlap_checks, set_local
from layers.query import in_force
from layers.store import stored_geometry

STAGE = "import_stage"


def stage_columns(layer: Layer) -> list[str]:
    return [f.name for f in layer.writable]


def create_stage(conn: Connection, layer: Layer, rules: dict) -> None:
    """The stage, whose rows PostGIS judges as COPY brings them in.

    The verdict (gis.sql.geometry_verdict by `rules`) is a stored generated
    column: computed row by row while the importer reads on, not in a pass
    of its own afterwards.
    """
    columns = ", ".join(stage_columns(layer))
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    # id, version: the feature a row names when the import is keyed by id (an export sent back), and the
    # version the file was made from; else empty.
    conn.execute(text(
        f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT id, version, {columns}, geom FROM {layer.id} WITH NO DATA"))
    verdict = with_literals(conn, sql.geometry_verdict("geom"), rules)
    # Any geometry may arrive: the verdict says what is wrong with it.
    added = [
        "ALTER COLUMN geom TYPE geometry(Geometry, 4326)",
        "ADD COLUMN row_no integer PRIMARY KEY",
        "ADD COLUMN rejected boolean NOT NULL DEFAULT false",
        f"ADD COLUMN problem text GENERATED ALWAYS AS ({verdict}) STORED",
    ]
    conn.execute(text(f"ALTER TABLE {STAGE} {', '.join(added)}"))


def with_literals(conn: Connection, statement: str, params: dict) -> str:
    """`statement` with its :params written in as SQL literals (by the driver): a generated column takes no parameters."""
    cursor = conn.connection.cursor()
    try:
        names = "|".join(re.escape(name) for name in sorted(params, key=len, reverse=True))
        return re.sub(rf"(?<![:\w]):({names})\b", lambda m: cursor.mogrify("%s", (params[m[1]],)).decode(), statement)
    finally:
        cursor.close()


def copy_rows(conn: Connection, layer: Layer, source) -> None:
    """COPY CSV rows (row_no, id, version, writable fields..., geom as hex EWKB, rejected) into the stage from a
    file-like `source`.

    A row refused for its values arrives rejected, so that no check across
    rows (overlaps, repeated keys) counts it.
    """
    columns = ", ".join(["row_no", "id", "version", *stage_columns(layer), "geom", "rejected"])
    cursor = conn.connection.cursor()
    try:
        cursor.copy_expert(f"COPY {STAGE} ({columns}) FROM STDIN WITH (FORMAT csv)", source)
    finally:
        cursor.close()


def index_stage(conn: Connection) -> None:
    """Index and analyse the staged rows: the overlap and place joins need both."""
    conn.execute(text(f"CREATE INDEX ON {STAGE} USING gist (geom)"))
    conn.execute(text(f"ANALYZE {STAGE}"))


def repair_geometries(conn: Connection, layer: Layer) -> int:
    """ST_MakeValid on invalid shapes, keeping only the layer's kind of parts."""
    kind = 1 if layer.is_point else 3
    return conn.execute(
        text(f"UPDATE {STAGE} SET geom = ST_CollectionExtract(ST_MakeValid(geom), {kind}) WHERE NOT ST_IsValid(geom)")
    ).rowcount


def reject_found(conn: Connection, found: str, params: dict | None = None) -> list[dict]:
    """Mark the staged rows a check finds (`found`: SELECT row_no, reason[, location]) rejected, in the
    same statement that returns them, so that later checks pass them by."""
    rows = conn.execute(text(
        f"WITH found AS ({found}), "
        f"marked AS (UPDATE {STAGE} AS s SET rejected = true FROM found WHERE s.row_no = found.row_no) "
        f"SELECT * FROM found ORDER BY row_no"
    ), params or {}).mappings()
    return [dict(r) for r in rows]


def reject_bad_geometries(conn: Connection, unjudged_only: bool = False) -> list[dict]:
    """Rows whose geometry cannot go in, by the same rules as any write (the stage's verdict); with
    `unjudged_only`, of the rows no check has rejected yet."""
    return reject_found(
        conn,
        f"SELECT row_no, 'geometry: ' || problem AS reason, {sql.invalid_location('geom', 'problem')} AS location "
        f"FROM {STAGE} WHERE problem IS NOT NULL{' AND NOT rejected' if unjudged_only else ''}",
    )


def not_same_feature(key: str | None) -> str:
    """With a key, a staged row `s` does not conflict with the feature `t` it is about to update."""
    return f" AND NOT (s.{key} IS NOT NULL AND t.{key} = s.{key})" if key else ""


def writing(key: str | None, alias: str = "s") -> str:
    """With a key, SQL to add: staged row `alias` writes something (set_aside_unchanged has not set it aside)."""
    return f" AND {writes(alias)}" if key else ""


def overlaps_sql(layer: Layer, key: str | None) -> str:
    """Rows sharing area with a feature of the layer, or with an earlier row of the file (among those touching one)."""
    return f"""
        SELECT s.row_no, 'geometry: overlaps feature(s) ' || string_agg(t.id::text, ', ' ORDER BY t.id) AS reason
          FROM {STAGE} s JOIN {layer.id} t ON {sql.shares_area("t", "s")}
         WHERE NOT s.rejected{not_same_feature(key)}{writing(key)} GROUP BY s.row_no
        UNION ALL
        SELECT b.row_no, 'geometry: overlaps row ' || min(a.row_no) || ' of the file'
          FROM {STAGE} a JOIN {STAGE} b ON a.row_no < b.row_no AND {sql.shares_area("a", "b")}
         WHERE NOT a.rejected AND NOT b.rejected AND b.row_no IN (SELECT row_no FROM {TOUCHING}){writing(key, "b")}
         GROUP BY b.row_no
    """


def reject_overlaps(conn: Connection, layer: Layer, key: str | None = None) -> list[dict]:
    lock_overlap_checks(conn, layer)
    find_touching(conn)
    return reject_found(conn, overlaps_sql(layer, key))


TOUCHING = "import_touching"


def find_touching(conn: Connection) -> None:
    """The accepted rows whose shape touches another's, in one clustering pass (DBSCAN at distance 0).

    Only they can overlap another row: testing every row of a file of
    parcels that never overlap against the rest of the file took 1.3 s of
    100,000 rows, this about 0.4 s.
    """
    conn.execute(text(f"DROP TABLE IF EXISTS {TOUCHING}"))
    conn.execute(
        text(
            f"CREATE TEMP TABLE {TOUCHING} ON COMMIT DROP AS SELECT row_no FROM ("
            f"SELECT row_no, ST_ClusterDBSCAN(geom, 0, 2) OVER () AS cluster FROM {STAGE} WHERE NOT rejected"
            f") AS clustered WHERE cluster IS NOT NULL"
        )
    )
    conn.execute(text(f"ANALYZE {TOUCHING}"))


def overlapping_rows(conn: Connection, layer: Layer, key: str | None, first: int) -> list[int]:
    """The first `first` rows sharing area with a feature or an earlier row: for layers that allow overlaps.

    Only a note, so the scan stops once it has them (in row order, by the
    stage's key) rather than testing every row: a file of much-overlapping
    zones took 2.2 s of 100,000 rows to count them all. A file whose shapes
    do not overlap (parcels) has no such early end: if its first rows show
    no overlaps, only the rows touching another are tested against the rest
    of the file (1.3 s down to 0.4 s for 100,000).
    """
    found = rows_overlapping(conn, layer, key, first, f"s.row_no <= {EARLY_ROWS}", "true")
    later = conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {STAGE} WHERE row_no > {EARLY_ROWS})")).scalar_one()
    if len(found) >= first or not later:  # enough, or a small file already tested whole
        return found
    find_touching(conn)
    touching = f"s.row_no IN (SELECT row_no FROM {TOUCHING})"
    return found + rows_overlapping(conn, layer, key, first - len(found), f"s.row_no > {EARLY_ROWS}", touching)


EARLY_ROWS = 5_000  # a file whose shapes overlap usually shows it in its first rows


def rows_overlapping(conn: Connection, layer: Layer, key: str | None, first: int, rows: str, within_file: str) -> list[int]:
    """overlapping_rows among the staged `rows`, testing them against earlier rows of the file where `within_file` holds."""
    return list(
        conn.execute(
            text(
                f"""
                SELECT s.row_no FROM {STAGE} AS s
                 WHERE NOT s.rejected AND {rows}{writing(key)} AND (
                   EXISTS (SELECT 1 FROM {layer.id} AS t WHERE {sql.shares_area("t", "s")}{not_same_feature(key)})
                   OR {within_file} AND EXISTS (SELECT 1 FROM {STAGE} AS a
                               WHERE a.row_no < s.row_no AND NOT a.rejected AND {sql.shares_area("a", "s")}))
                 ORDER BY s.row_no LIMIT :n
                """
            ),
            {"n": first},
        ).scalars()
    )


def reject_repeated_keys(conn: Connection, layer: Layer, key: str) -> list[dict]:
    """Rows whose key repeats an earlier row, or matches several features: which one to update?"""
    return reject_found(
        conn,
        f"""
        SELECT row_no, 'key ' || {key} || ' repeats row ' || first AS reason FROM (
          SELECT row_no, {key}, min(row_no) OVER (PARTITION BY {key}) AS first FROM {STAGE}
           WHERE {key} IS NOT NULL AND NOT rejected
        ) AS keyed WHERE row_no <> first
        UNION ALL
        SELECT s.row_no, 'key ' || s.{key} || ' matches ' || count(*) || ' features; it must name one'
          FROM {STAGE} s JOIN {layer.id} t ON t.{key} = s.{key}
         WHERE NOT s.rejected GROUP BY s.row_no, s.{key} HAVING count(*) > 1
        """,
    )


def lock_keyed(conn: Connection, layer: Layer, key: str) -> None:
    """Lock the features the staged rows name by `key` until commit: none changes between the checks and the update.
    Keyed imports into a layer also take turns: two at once would each add the new keys, as neither sees the other's."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"vung keyed import {layer.id}"})
    conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {layer.id} AS t JOIN {STAGE} AS s ON t.{key} = s.{key} "
                      "FOR UPDATE OF t) AS locked"))


SAME = "import_same"  # the staged rows naming by key a feature that already holds what they say


def changes(layer: Layer, fields: list[str]) -> str:
    """SQL: staged row `s` would change feature `t` in `fields` or shape. Shapes count as the same when they
    differ only by a ring's start or direction, or below 1e-7 degrees (about a centimetre): what a round
    trip through GeoJSON, KML or a shapefile does to them."""
    shape = stored_geometry(layer, "s.geom")
    snapped = "ST_SnapToGrid(t.geom, 1e-7)"  # a shape smaller than the grid snaps to nothing: no match then
    same_shape = (f"(t.geom = {shape} OR NOT ST_IsEmpty({snapped}) AND ST_OrderingEquals(ST_Normalize({snapped}), "
                  f"ST_Normalize(ST_SnapToGrid({shape}, 1e-7))))")
    values = f"({', '.join(f't.{c}' for c in fields) or 'NULL'}) IS DISTINCT FROM ({', '.join(f's.{c}' for c in fields) or 'NULL'})"
    return f"({values} OR NOT {same_shape})"


DBF_TEXT_BYTES = 254  # what a shapefile's text field holds; writers cut longer text there


def keep_cut_text(conn: Connection, layer: Layer, key: str, fields: list[str]) -> int:
    """A file sent back by key that went through a shapefile (an export, maybe saved in another format
    since): text the shapefile had to cut at 254 bytes is the stored text, not a change, so the staged value
    takes the stored one. How many values were so kept."""
    kept = 0
    for name in (f.name for f in layer.writable if f.name in fields and f.is_free_text):
        kept += conn.execute(text(
            f"UPDATE {STAGE} AS s SET {name} = t.{name} FROM {layer.id} AS t "
            f"WHERE t.{key} = s.{key} AND NOT s.rejected AND octet_length(s.{name}) BETWEEN :cut - 3 AND :cut "
            f"AND length(t.{name}) > length(s.{name}) AND left(t.{name}, length(s.{name})) = s.{name}"
        ), {"cut": DBF_TEXT_BYTES}).rowcount  # - 3: a character cut in two is left out whole
    return kept


def set_aside_unchanged(conn: Connection, layer: Layer, key: str, fields: list[str]) -> None:
    """Note the accepted rows whose feature already holds what they say (SAME): no check of a write applies
    to them (a district-limited editor sending back a whole export), and update_rows passes them by. Only
    a key written once in the file and naming one feature can be so; the features are locked first, so
    none changes between this and the update."""
    lock_keyed(conn, layer, key)
    conn.execute(text(f"DROP TABLE IF EXISTS {SAME}"))
    conn.execute(text(f"""
        CREATE TEMP TABLE {SAME} ON COMMIT DROP AS
        WITH once AS (SELECT {key} FROM {STAGE} WHERE NOT rejected AND {key} IS NOT NULL GROUP BY {key} HAVING count(*) = 1),
             alone AS (SELECT {key} FROM {layer.id} WHERE {key} IN (SELECT {key} FROM once) GROUP BY {key} HAVING count(*) = 1)
        SELECT s.row_no FROM {STAGE} AS s JOIN alone USING ({key}) JOIN {layer.id} AS t ON t.{key} = s.{key}
         WHERE NOT s.rejected AND NOT {changes(layer, fields)}
    """))
    conn.execute(text(f"ALTER TABLE {SAME} ADD PRIMARY KEY (row_no)"))
    conn.execute(text(f"ANALYZE {SAME}"))


def writes(alias: str = "s") -> str:
    """SQL: staged row `alias` would write something (it is not set aside as unchanged)."""
    return f"NOT EXISTS (SELECT 1 FROM {SAME} AS same WHERE same.row_no = {alias}.row_no)"


def reject_unknown_ids(conn: Connection, layer: Layer) -> list[dict]:
    """Rows of a file keyed by id (an export sent back) naming no feature of the layer (deleted since, or
    from another layer): importing them would bring back a deletion."""
    return reject_found(conn, f"""
        SELECT s.row_no, 'id ' || s.id || ': no feature of {layer.id} has this id (deleted since the file was made?); '
               || 'leave it empty to add the row as a new feature' AS reason
          FROM {STAGE} AS s
         WHERE NOT s.rejected AND s.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {layer.id} AS t WHERE t.id = s.id)
    """)


def reject_stale_copies(conn: Connection, layer: Layer, key: str) -> list[dict]:
    """Rows of an export sent back, by any `key`, whose version column is older than the feature's, the
    feature not holding again what it held then (as after an undo): importing them would lose a
    colleague's change. By another key than id, only where the row's id names that same feature: a file
    of another source may have id and version columns of its own. Rows changing nothing pass. The
    features were locked by set_aside_unchanged."""
    return reject_found(conn, f"""
        SELECT s.row_no, '{key} ' || s.{key} || ': the feature was changed since the file was made (version '
               || s.version || ' in the file, ' || t.version || ' now)' AS reason
          FROM {STAGE} AS s JOIN {layer.id} AS t ON t.{key} = s.{key}{"" if key == "id" else " AND t.id = s.id"}
         WHERE NOT s.rejected AND s.version IS NOT NULL AND s.version <> t.version AND {writes()}
           AND NOT EXISTS (SELECT 1 FROM feature_history AS h WHERE h.layer = :layer AND h.feature_id = t.id
                           AND h.version = s.version AND {holds_again("h")})
    """, {"layer": layer.id})


OUTSIDE_DISTRICTS = "outside the districts you may edit"


def reject_outside_districts(conn: Connection, layer: Layer, districts: tuple[str, ...], key: str | None) -> list[dict]:
    """Rows that would put a feature outside `districts` (codes), where the place trigger would find it, or
    change by `key` a feature lying outside them: an editor of some districts imports only into those.
    Reads the stage's places (stage_places); with a key, the features were locked by set_aside_unchanged.
    """
    writing = f" AND {writes()}" if key else ""  # a row changing nothing writes nowhere
    # Where the row lies and in which district: the editor passes such rows on to a colleague.
    where = "ST_AsGeoJSON(ST_PointOnSurface(s.geom)) AS location"
    found = [f"""
        SELECT s.row_no, 'district: {OUTSIDE_DISTRICTS}' || coalesce(' (' || p.name || ')', '') AS reason, {where}
          FROM {STAGE} AS s LEFT JOIN import_places AS p ON p.row_no = s.row_no AND p.level = 'district'
         WHERE NOT s.rejected AND {outside_districts("p.code")}{writing}
    """]
    if key:
        found.append(f"""
        SELECT DISTINCT s.row_no, 'key ' || s.{key} || ' names a feature {OUTSIDE_DISTRICTS}' AS reason, {where}
          FROM {STAGE} AS s JOIN {layer.id} AS t ON t.{key} = s.{key}
         WHERE NOT s.rejected AND {outside_districts("t.district_code")}{writing}
        """)
    return reject_found(conn, " UNION ALL ".join(found), {"districts": list(districts)})


STAGED_SHAPES = f"SELECT row_no, geom FROM {STAGE} WHERE NOT rejected"


def stage_places(conn: Connection, shapes: str = STAGED_SHAPES) -> None:
    """District and commune of every row of `shapes` (SQL giving row_no, geom), as the place trigger
    would find them, into import_places: by default the accepted rows of the stage.

    One join with the units outside lets PostGIS prepare each unit's polygon
    once for all the points in it, instead of once per row.
    """
    # A second import in the same transaction finds the tables of the first.
    conn.execute(text("DROP TABLE IF EXISTS import_points, import_places"))
    conn.execute(text(
        f"CREATE TEMP TABLE import_points ON COMMIT DROP AS "
        f"SELECT row_no, ST_PointOnSurface(geom) AS pt FROM ({shapes}) AS s"
    ))
    conn.execute(text("CREATE INDEX ON import_points USING gist (pt)"))
    conn.execute(text("ANALYZE import_points"))
    # Two places a row: with the default 4 MB this sort of 200,000 went to disk.
    set_local(conn, {"work_mem": "64MB"})
    conn.execute(text(
        f"""
        CREATE TEMP TABLE import_places ON COMMIT DROP AS
        SELECT DISTINCT ON (p.row_no, u.level) p.row_no, u.level, u.name, u.code
          FROM admin_units u JOIN import_points p ON u.geom && p.pt AND ST_Intersects(u.geom, p.pt)
         WHERE u.level IN ('district', 'commune') AND {in_force(REGISTRY['admin_units'], 'u.')}
         ORDER BY p.row_no, u.level, u.id
        """
    ))
    conn.execute(text("ANALYZE import_places"))  # a temporary table has no statistics, so the joins with it would be guessed


# A load at least this big, and at least as big as the layer already is, goes
# in without the layer's secondary indexes, which are built again afterwards:
# 100,000 zones took 3.3 s more with the indexes kept than without them,
# while building them anew takes under a second.
BULK_ROWS = 10_000
LOCK_WAIT = "2s"  # readers still busy with the layer after this: keep the indexes
LOCK_NOT_AVAILABLE = "55P03"


def rows_in_no_district(conn: Connection, most: int) -> list[int]:
    """The first `most` accepted staged rows stage_places found in no district: at sea, or beyond the province."""
    return conn.execute(text(
        f"SELECT s.row_no FROM {STAGE} AS s LEFT JOIN import_places AS p ON p.row_no = s.row_no AND p.level = 'district' "
        "WHERE NOT s.rejected AND p.row_no IS NULL ORDER BY s.row_no LIMIT :most"
    ), {"most": most}).scalars().all()


def keep_stored_shapes(conn: Connection, layer: Layer, key: str) -> list[dict]:
    """Staged rows naming by `key` a feature their point lies in take its stored shape: the file gave
    only a point in each area (an export with longitude and latitude columns), which is no shape to
    store. The other rows are rejected, saying why: a point elsewhere is a row of another file."""
    conn.execute(text(f"UPDATE {STAGE} AS s SET geom = t.geom FROM {layer.id} AS t "
                      f"WHERE s.{key} = t.{key} AND ST_Intersects(t.geom, s.geom)"))
    return reject_found(conn, f"""
        SELECT s.row_no, CASE
                 WHEN s.{key} IS NULL THEN 'no {key}: a point is no shape to add'
                 WHEN NOT EXISTS (SELECT 1 FROM {layer.id} AS t WHERE t.{key} = s.{key})
                   THEN '{key} ' || s.{key} || ': no feature of {layer.id} has it, and a point is no shape to add'
                 ELSE '{key} ' || s.{key} || ': its point lies outside that feature (a row of another file?)'
               END AS reason
          FROM {STAGE} AS s WHERE GeometryType(s.geom) = 'POINT'
    """)


SAME_PLACE = 1e-5  # degrees, about a metre: a point sent twice lands exactly where it did


def rows_already_there(conn: Connection, layer: Layer, most: int) -> list[int]:
    """The first `most` accepted staged points lying where a feature of the same name already lies: most
    likely the same file imported again."""
    return conn.execute(text(
        f"SELECT s.row_no FROM {STAGE} AS s WHERE NOT s.rejected AND EXISTS (SELECT 1 FROM {layer.id} AS t "
        "WHERE t.name = s.name AND ST_DWithin(t.geom, s.geom, :near)) ORDER BY s.row_no LIMIT :most"
    ), {"most": most, "near": SAME_PLACE}).scalars().all()


def rows_without_key(conn: Connection, key: str, most: int) -> list[int]:
    """The first `most` accepted staged rows whose `key` is empty: they name no feature, so each is a new one."""
    return conn.execute(text(
        f"SELECT row_no FROM {STAGE} WHERE NOT rejected AND {key} IS NULL ORDER BY row_no LIMIT :most"
    ), {"most": most}).scalars().all()


def would_write(conn: Connection, layer: Layer, key: str | None, fields: list[str]) -> tuple[int, int]:
    """(updates, inserts) the accepted staged rows would make: by `key`, those naming a feature and changing
    its `fields` or shape, and those naming none; what a dry run tells. Joins, not a lookup per row: a key
    like name has no index. (A key naming several features was refused by then.)"""
    if not key:
        return 0, staged_count(conn)
    return tuple(conn.execute(text(f"""
        SELECT count(*) FILTER (WHERE t.{key} IS NOT NULL AND same.row_no IS NULL AND {changes(layer, fields)}),
               count(*) FILTER (WHERE t.{key} IS NULL)
          FROM {STAGE} AS s
          LEFT JOIN {layer.id} AS t ON t.{key} = s.{key}
          LEFT JOIN {SAME} AS same ON same.row_no = s.row_no
         WHERE NOT s.rejected
    """)).one())


def staged_count(conn: Connection) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {STAGE} WHERE NOT rejected")).scalar_one()


def layer_reaches(conn: Connection, layer: Layer, rows: int) -> bool:
    """Whether the layer holds at least `rows` features (counting no further)."""
    return conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {layer.id} LIMIT :n) AS s"), {"n": rows}).scalar_one() >= rows


def secondary_indexes(conn: Connection, layer: Layer) -> list[tuple[str, str]]:
    """(name, definition) of the layer's indexes that no constraint owns."""
    rows = conn.execute(
        text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i "
            "WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisprimary AND NOT i.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)"
        ),
        {"table": layer.id},
    )
    return [(name, definition) for name, definition in rows]


def drop_indexes_for_load(conn: Connection, layer: Layer, incoming: int) -> list[str]:
    """Drop the layer's secondary indexes for a big load of `incoming` rows; their definitions, or [] if
    it is not worth it.

    Dropping locks the layer against readers until the import commits: the
    lock is only waited for briefly, and a busy layer keeps its indexes.
    """
    if incoming < BULK_ROWS or layer_reaches(conn, layer, incoming + 1):
        return []
    indexes = secondary_indexes(conn, layer)
    savepoint = conn.begin_nested()
    try:
        previous = set_local(conn, {"lock_timeout": LOCK_WAIT})
        conn.execute(text(f"LOCK TABLE {layer.id} IN ACCESS EXCLUSIVE MODE"))
        set_local(conn, previous)
    except OperationalError as err:
        savepoint.rollback()
        if getattr(err.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        return []
    savepoint.commit()
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    return [definition for _, definition in indexes]


def build_indexes(conn: Connection, definitions: list[str]) -> None:
    set_local(conn, {"maintenance_work_mem": "256MB"})
    for definition in definitions:
        conn.execute(text(definition))


def save_staged(conn: Connection, layer: Layer, key: str | None = None, fields: list[str] | None = None) -> tuple[int, int, bool]:
    """Update the features whose `key` a staged row names, insert the other accepted rows; `fields`
    (the file's mapped ones; all writable by default) are written, a feature's others are left as they are.
    Keyed, after set_aside_unchanged.

    Set-based, with the place (stage_places, run before) and version the row
    triggers would give (they stand aside while vung.bulk is on); area and
    history come from the layer as for any write. A feature the file would
    not change is not written. Returns (updated, inserted, whether the
    layer's indexes were built again after the load).
    """
    fields = stage_columns(layer) if fields is None else [f for f in stage_columns(layer) if f in fields]
    unchanged = f"SELECT count(*) FROM {SAME} JOIN {STAGE} USING (row_no) WHERE NOT rejected"
    incoming = staged_count(conn) - (conn.execute(text(unchanged)).scalar_one() if key else 0)
    rebuilt = drop_indexes_for_load(conn, layer, incoming)
    set_local(conn, {"vung.bulk": "on"})  # the row triggers stand aside (migrations 0003, 0006)
    updated = update_rows(conn, layer, key, fields) if key else 0
    inserted = insert_rows(conn, layer, key, fields)
    set_local(conn, {"vung.bulk": ""})
    build_indexes(conn, rebuilt)
    return updated, inserted, bool(rebuilt)


def derived(layer: Layer, row_no: str = "s.row_no") -> tuple[list[tuple[str, str]], str]:
    """(column, value) pairs of the place stage_places found for row `row_no` (a staged row's by
    default), and the joins they need."""
    pairs, joins = [], []
    if layer.derive_place:
        for level in ("district", "commune"):
            pairs += [(level, f"{level}.name"), (f"{level}_code", f"{level}.code")]
            joins.append(f"LEFT JOIN import_places AS {level} ON {level}.row_no = {row_no} AND {level}.level = '{level}'")
    return pairs, " ".join(joins)


def update_rows(conn: Connection, layer: Layer, key: str, fields: list[str]) -> int:
    """Features whose `key` matches a staged row take its `fields`, shape and place, and a new version;
    those set aside as unchanged (set_aside_unchanged) are left alone: no version that changes nothing."""
    pairs, joins = derived(layer)
    assignments = [f"{c} = s.{c}" for c in fields] + [f"{c} = {v}" for c, v in pairs]
    assignments += [f"geom = {stored_geometry(layer, 's.geom')}", "version = t.version + 1", "updated_at = now()"]
    # A row the file repeats is never set aside as unchanged; its copies refused, it may still change nothing.
    return conn.execute(text(
        f"UPDATE {layer.id} AS t SET {', '.join(assignments)} FROM {STAGE} AS s {joins} "
        f"WHERE NOT s.rejected AND s.{key} IS NOT NULL AND t.{key} = s.{key} AND {writes()} AND {changes(layer, fields)}"
    )).rowcount


def insert_rows(conn: Connection, layer: Layer, key: str | None, columns: list[str]) -> int:
    """The accepted rows no feature's `key` matched (the update took those) as new features, in file order."""
    pairs, joins = derived(layer)
    targets = [*columns, *(c for c, _ in pairs), "geom"]
    values = [*(f"s.{c}" for c in columns), *(v for _, v in pairs), stored_geometry(layer, "s.geom")]
    updated = f" AND NOT (s.{key} IS NOT NULL AND EXISTS (SELECT 1 FROM {layer.id} AS k WHERE k.{key} = s.{key}))" if key else ""
    return conn.execute(text(
        f"INSERT INTO {layer.id} ({', '.join(targets)}) SELECT {', '.join(values)} "
        f"FROM {STAGE} AS s {joins} WHERE NOT s.rejected{updated} ORDER BY s.row_no"
    )).rowcount


LOG_COLUMNS = "id, layer, username, at, file_name, rows_read, inserted, updated, rejected, undone_at, undone_by, undo"


# Control characters, and the marks that turn text right to left (a name could then read "gpj.exe" as "exe.jpg").
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown_file_name(name: str) -> str:
    """A file's name as the log keeps it: no control or direction characters (a NUL cannot be stored,
    escapes would reach the terminal of whoever lists the log), at most 200 characters."""
    return CONTROL_CHARACTERS.sub("", name)[:200]


def record_import(conn: Connection, layer: Layer, username: str | None, file_name: str, counts: dict[str, int]) -> tuple[int, datetime]:
    """Log a committed import in the import's own transaction: (its id, its time). The time is the transaction's,
    so also that of every history row the import wrote, which is how undo_import finds them."""
    row = conn.execute(text(
        "INSERT INTO imports (layer, username, at, file_name, rows_read, inserted, updated, rejected) "
        "VALUES (:layer, :username, now(), :file_name, :rows_read, :inserted, :updated, :rejected) RETURNING id, at"
    ), {"layer": layer.id, "username": username, "file_name": shown_file_name(file_name), **counts}).one()
    return row.id, row.at


def import_log(conn: Connection, username: str | None = None, limit: int = 20, layers: list[str] | None = None) -> list[dict]:
    """The newest committed imports; of `username` (spelt in any case, as accounts are) and into `layers` only,
    where given."""
    rows = conn.execute(text(
        f"SELECT {LOG_COLUMNS} FROM imports WHERE (CAST(:username AS text) IS NULL OR lower(username) = lower(:username)) "
        "AND (CAST(:layers AS text[]) IS NULL OR layer = ANY(:layers)) ORDER BY at DESC, id DESC LIMIT :limit"
    ), {"username": username, "layers": layers, "limit": limit}).mappings()
    return [dict(r) for r in rows]


def logged_import(conn: Connection, import_id: int, lock: bool = False) -> dict | None:
    row = conn.execute(text(f"SELECT {LOG_COLUMNS} FROM imports WHERE id = :id{' FOR UPDATE' if lock else ''}"),
                       {"id": import_id}).mappings().one_or_none()
    return dict(row) if row else None


class UndoRefused(Exception):
    """An import that cannot be taken back as a whole: nothing was changed."""


UNDONE = "import_undone"
BOOKKEEPING = " - 'version' - 'created_at' - 'updated_at'"
# A feature is as the import left it when it still has that version, or holds the same again: undoing
# a later import restored it, say. Only then does the undo touch it (`t` the feature, `w` the import's
# write of it, both of undo_writes).


def holds_again(h: str) -> str:
    """SQL: feature `t` holds what history row `h` recorded (values and shape), whatever its version."""
    return f"{h}.properties{BOOKKEEPING} = to_jsonb(t) - 'geom' - 'search_text'{BOOKKEEPING} AND ST_OrderingEquals({h}.geom, t.geom)"


AS_IMPORTED = f"""CASE WHEN t.id IS NULL THEN false WHEN t.version = w.version THEN true ELSE EXISTS (
    SELECT 1 FROM feature_history AS i WHERE i.layer = :layer AND i.feature_id = w.feature_id AND i.version = w.version
       AND i.at = :at AND {holds_again("i")}) END"""


def undo_import(conn: Connection, import_id: int, by: str | None, districts: tuple[str, ...] | None = None) -> dict[str, int]:
    """Take back the logged import `import_id`, for `by`: the features it added are deleted, those it
    updated go back to the version before it. A feature changed since, by anyone, is left as it is and
    counted: no later edit is lost. Refused whole (UndoRefused) once undone, or where it would touch a
    feature outside `districts` (codes; None: all) or make shapes overlap in a layer refusing overlaps,
    as an edit would be. The log row is locked first: two undos of one import wait for each other."""
    logged = logged_import(conn, import_id, lock=True)
    if logged is None:
        raise UndoRefused(f"there is no import {import_id}")
    if logged["undone_at"] is not None:
        raise UndoRefused("it has been undone already")
    layer = REGISTRY.get(logged["layer"])
    if layer is None or not layer.editable:
        raise UndoRefused(f"its layer {logged['layer']} is no longer editable")
    result = undo_writes(conn, layer, logged["username"], logged["at"], districts)
    conn.execute(text("UPDATE imports SET undone_at = now(), undone_by = :by, undo = CAST(:result AS jsonb) WHERE id = :id"),
                 {"id": import_id, "by": by, "result": json.dumps(result)})
    return result


def undo_writes(conn: Connection, layer: Layer, username: str | None, at, districts: tuple[str, ...] | None) -> dict[str, int]:
    """Undo what `username`'s transaction at `at` wrote to `layer`, as undo_import says."""
    lock_overlap_checks(conn, layer)
    conn.execute(text(f"DROP TABLE IF EXISTS {UNDONE}"))
    conn.execute(text(  # every feature the import wrote, read once from the whole history: unchanged since or not
        f"CREATE TEMP TABLE {UNDONE} ON COMMIT DROP AS "
        f"SELECT w.feature_id, w.version, w.operation, t.version AS seen_version, {AS_IMPORTED} AS unchanged, "
        "b.properties, b.geom FROM ("
        "  SELECT DISTINCT ON (feature_id) feature_id, version, operation FROM feature_history "
        "  WHERE layer = :layer AND at = :at AND username IS NOT DISTINCT FROM :user AND operation IN ('create', 'update') "
        "  ORDER BY feature_id, version DESC) AS w "
        f"LEFT JOIN {layer.id} AS t ON t.id = w.feature_id "
        "LEFT JOIN LATERAL (SELECT h.properties, h.geom FROM feature_history AS h WHERE h.layer = :layer "
        "  AND h.feature_id = w.feature_id AND h.version = w.version - 1 AND h.operation <> 'delete' "
        "  ORDER BY h.id DESC LIMIT 1) AS b ON w.operation = 'update' "
        "ORDER BY w.feature_id"
    ), {"layer": layer.id, "at": at, "user": username})
    conn.execute(text(f"ANALYZE {UNDONE}"))  # without statistics the restoring join was planned for a handful of rows
    conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {layer.id} AS t JOIN {UNDONE} AS u ON u.feature_id = t.id "
                      "AND u.unchanged FOR UPDATE OF t) AS locked"))
    if districts is not None:
        refuse_outside(
            conn, layer, f"SELECT t.district_code FROM {layer.id} AS t JOIN {UNDONE} AS u ON u.feature_id = t.id AND u.unchanged",
            districts,
        )
    removed = conn.execute(text(
        f"DELETE FROM {layer.id} AS t USING {UNDONE} AS u WHERE u.operation = 'create' AND u.unchanged AND t.id = u.feature_id "
        "AND t.version = u.seen_version"
    )).rowcount
    restored_ids = restore_rows(conn, layer)
    if restored_ids and districts is not None:
        refuse_outside(conn, layer, f"SELECT district_code FROM {layer.id} WHERE id = ANY(:ids)", districts, restored_ids)
    if restored_ids and layer.overlap == "reject" and not layer.is_point:
        refuse_overlaps(conn, layer, restored_ids)
    total, unrecorded = conn.execute(text(
        f"SELECT count(*), count(*) FILTER (WHERE unchanged AND operation = 'update' AND properties IS NULL) FROM {UNDONE}"
    )).one()
    return {"removed": removed, "restored": len(restored_ids), "unrecorded": unrecorded,
            "changed_since": total - removed - len(restored_ids) - unrecorded}


RESTORED = f"SELECT feature_id AS row_no, geom FROM {UNDONE} WHERE operation = 'update' AND unchanged AND properties IS NOT NULL"


def restore_rows(conn: Connection, layer: Layer) -> list[int]:
    """Bring the updated features of the undone import back to their earlier version (values, shape,
    and the place that shape lies in today), set-based like the import's own update; their ids."""
    if layer.derive_place:
        stage_places(conn, RESTORED)
    pairs, joins = derived(layer, row_no="u.feature_id")
    assignments = [f"{c} = r.{c}" for c in stage_columns(layer)] + [f"{c} = {v}" for c, v in pairs]
    assignments += ["geom = u.geom", "version = t.version + 1", "updated_at = now()"]
    incoming = conn.execute(text(f"SELECT count(*) FROM ({RESTORED}) AS r")).scalar_one()
    rebuilt = drop_indexes_for_load(conn, layer, incoming)
    set_local(conn, {"vung.bulk": "on"})  # the row triggers stand aside, as for an import
    ids = conn.execute(text(f"""
        UPDATE {layer.id} AS t SET {", ".join(assignments)}
          FROM {UNDONE} AS u CROSS JOIN LATERAL jsonb_populate_record(NULL::{layer.id}, u.properties) AS r {joins}
         WHERE u.operation = 'update' AND u.unchanged AND u.properties IS NOT NULL AND t.id = u.feature_id
           AND t.version = u.seen_version
        RETURNING t.id
    """)).scalars().all()
    set_local(conn, {"vung.bulk": ""})
    build_indexes(conn, rebuilt)  # before the checks that follow, which read them
    return ids


def refuse_outside(conn: Connection, layer: Layer, codes: str, districts: tuple[str, ...], ids=None) -> None:
    outside = conn.execute(text(f"SELECT count(*) FROM ({codes}) AS c(code) WHERE {outside_districts('code')}"),
                           {"districts": list(districts), "ids": ids}).scalar_one()
    if outside:
        raise UndoRefused(f"{outside} of its features lie outside the districts you may edit")


def refuse_overlaps(conn: Connection, layer: Layer, ids: list[int]) -> None:
    """Restored shapes must meet today's rule: another feature may have been drawn over one since."""
    pairs = conn.execute(text(
        f"SELECT t.id, o.id FROM {layer.id} AS t JOIN {layer.id} AS o ON o.id <> t.id AND {sql.shares_area('t', 'o')} "
        f"WHERE t.id = ANY(:ids) ORDER BY t.id, o.id LIMIT 5"
    ), {"ids": ids}).all()
    if pairs:
        shown = ", ".join(f"{a} and {b}" for a, b in pairs)
        raise UndoRefused(f"restoring would make features overlap: {shown}")


def create_job(conn: Connection, job_id: str, user_id: int, layer: Layer, kind: str = "import") -> None:
    """A running job of `kind`: "import" (its report is the importer's) or "undo" (undo_import's counts)."""
    conn.execute(
        text("INSERT INTO import_jobs (id, user_id, layer, kind, state, phase) VALUES (:id, :user, :layer, :kind, 'running', :phase)"),
        {"id": job_id, "user": user_id, "layer": layer.id, "kind": kind, "phase": "reading" if kind == "import" else "undoing"},
    )


def update_job(conn: Connection, job_id: str, **values) -> None:
    """Set phase, rows_done, rows_total, state, report (JSON text) or error of a job."""
    allowed = {"phase", "rows_done", "rows_total", "state", "report", "error"}
    assignments = [f"{k} = :{k}" if k != "report" else "report = CAST(:report AS jsonb)" for k in values if k in allowed]
    # With no values it only marks the job alive (the heartbeat).
    assignments.append("updated_at = now()")
    conn.execute(text(f"UPDATE import_jobs SET {', '.join(assignments)} WHERE id = :id"), {**values, "id": job_id})


# A running job touches its row every HEARTBEAT_SECONDS (app.imports.run_job),
# so a silence several times as long means its worker is gone (a restart).
HEARTBEAT_SECONDS = 20
STALE_JOB_MINUTES = 2
IMPORT_INTERRUPTED = "The import was interrupted (the server restarted); nothing was written. Run it again."
UNDO_INTERRUPTED = "The undo was interrupted (the server restarted); nothing was changed. Run it again."


def get_job(conn: Connection, job_id: str, user_id: int) -> dict | None:
    """The user's job; one silent for too long lost its worker (a restart) and is marked failed."""
    conn.execute(
        text(
            "UPDATE import_jobs SET state = 'failed', updated_at = now(), error = CASE kind "
            f"WHEN 'undo' THEN '{UNDO_INTERRUPTED}' ELSE '{IMPORT_INTERRUPTED}' END "
            "WHERE id = :id AND state = 'running' AND updated_at < now() - make_interval(mins => :stale)"
        ),
        {"id": job_id, "stale": STALE_JOB_MINUTES},
    )
    row = conn.execute(
        text(
            "SELECT id, layer, kind, state, phase, rows_done, rows_total, report, error FROM import_jobs "
            "WHERE id = :id AND user_id = :user"
        ),
        {"id": job_id, "user": user_id},
    ).mappings().one_or_none()
    return dict(row) if row else None
