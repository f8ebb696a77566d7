"""Layer-driven write statements: inserting features, deriving commune areas."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

from layers.base import Layer


def writable_columns(layer: Layer) -> tuple[str, ...]:
    return tuple(f.name for f in layer.fields if not f.computed or not layer.editable)


def stored_geometry(layer: Layer, geom: str) -> str:
    """`geom` as the layer stores it: single polygons become multipolygons where the column wants them."""
    return f"ST_Multi({geom})" if layer.geometry == "MultiPolygon" else geom


def insert_statement(layer: Layer, columns: tuple[str, ...]) -> str:
    geom = stored_geometry(layer, "ST_GeomFromText(:geom, 4326)")
    names = ", ".join((*columns, "geom"))
    values = ", ".join((*(f":{c}" for c in columns), geom))
    return f"INSERT INTO {layer.id} ({names}) VALUES ({values})"


def insert_features(conn: Connection, layer: Layer, rows: Iterable[dict]) -> int:
    """Insert rows of field values plus `geom` as WKT in EPSG:4326."""
    columns = writable_columns(layer)
    batch = [{c: row.get(c) for c in columns} | {"geom": row["geom"]} for row in rows]
    if batch:
        conn.execute(text(insert_statement(layer, columns)), batch)
    return len(batch)


def delete_all(conn: Connection, layer: Layer) -> None:
    conn.execute(text(f"DELETE FROM {layer.id}"))


def build_commune_areas(conn: Connection, points: list[dict], source: str) -> int:
    """Approximate commune areas: a Voronoi split of commune points inside each district.

    `points` carry code, name, name_en, lon, lat. The cells are marked
    approximate; they are not surveyed boundaries.
    """
    conn.execute(text("CREATE TEMP TABLE commune_points (code text, name text, name_en text, pt geometry(Point, 4326)) ON COMMIT DROP"))
    conn.execute(
        text("INSERT INTO commune_points VALUES (:code, :name, :name_en, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
        points,
    )
    result = conn.execute(
        text(
            """
            WITH districts AS (
              SELECT code, geom FROM admin_units WHERE level = 'district'
            ), cells AS (
              SELECT d.code AS district_code, d.geom AS district_geom,
                     (ST_Dump(ST_VoronoiPolygons(ST_Collect(p.pt), 0, d.geom))).geom AS cell
                FROM districts d JOIN commune_points p ON ST_Intersects(d.geom, p.pt)
               GROUP BY d.code, d.geom
            )
            INSERT INTO admin_units (code, name, name_en, level, parent_code, approximate, source, geom)
            SELECT p.code, p.name, p.name_en, 'commune', c.district_code, true, :source,
                   ST_Multi(ST_CollectionExtract(ST_Intersection(c.cell, c.district_geom), 3))
              FROM cells c JOIN commune_points p ON ST_Intersects(c.cell, p.pt)
                   AND ST_Intersects(c.district_geom, p.pt)
            """
        ),
        {"source": source},
    )
    return result.rowcount


def generate_synthetic_zones(conn: Connection, count: int, seed: float | None, start: int = 0) -> int:
    """Up to `count` random rectangular fields of 0.5–6 ha inside the province.

    Candidates fall in the province's bounding box and only those inside are
    kept, so fewer than `count` may come back; a None seed continues the
    current random sequence. Names are numbered from `start` + 1.
    """
    if seed is not None:
        conn.execute(text("SELECT setseed(:seed)"), {"seed": seed})
    result = conn.execute(
        text(
            """
            WITH province AS (
              SELECT ST_Union(geom) AS geom FROM admin_units WHERE level = 'district'
            ), box AS (
              SELECT ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1 FROM province
            ), candidates AS (
              SELECT n, x0 + random() * (x1 - x0) AS x, y0 + random() * (y1 - y0) AS y,
                     0.0003 + random() * 0.0009 AS dx, 0.0002 + random() * 0.0006 AS dy, random() * pi() AS angle,
                     random() AS r1, random() AS r2, random() AS r3
                FROM box, generate_series(1, :count * 3) AS n
            ), inside AS (
              SELECT c.* FROM candidates c, province p
               WHERE ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(c.x, c.y), 4326))
               ORDER BY c.n LIMIT :count
            )
            INSERT INTO farming_zones (name, crop, certification, status, season, owner, illustrative, source, geom)
            SELECT 'Cánh đồng mẫu số ' || (:start + row_number() OVER (ORDER BY n)),
                   (ARRAY['rice','rice','rice','rice_seed','vegetables','fruit','ornamental','other'])[1 + floor(r1 * 8)::int],
                   (ARRAY['conventional','conventional','vietgap','organic','globalgap'])[1 + floor(r2 * 5)::int],
                   (ARRAY['active','active','active','planned','suspended'])[1 + floor(r3 * 5)::int],
                   'Đông Xuân', 'HTX ' || (1 + floor(r2 * 300)::int), true, 'synthetic benchmark data',
                   ST_Multi(ST_Rotate(ST_MakeEnvelope(x - dx, y - dy, x + dx, y + dy, 4326), angle, ST_SetSRID(ST_MakePoint(x, y), 4326)))
              FROM inside
            """
        ),
        {"count": count, "start": start},
    )
    return result.rowcount
