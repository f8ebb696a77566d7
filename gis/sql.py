"""Generic spatial SQL fragments, knowing nothing of any particular layer.

Identifiers passed here must come from the layer registry, never from a
request; every value is a bound parameter.
"""

from __future__ import annotations

# 7 decimals of a degree is about a centimetre: more is noise in the payload.
GEOJSON_DECIMALS = 7
# Postgres caps a function at 100 arguments, so json_build_object at 50 pairs.
MAX_PROPERTIES = 50


def envelope_sql() -> str:
    return "ST_MakeEnvelope(:bbox_minx, :bbox_miny, :bbox_maxx, :bbox_maxy, 4326)"


def bbox_condition(geom: str) -> str:
    """`&&` lets the GiST index pick candidates; ST_Intersects keeps the exact answer."""
    env = envelope_sql()
    return f"({geom} && {env} AND ST_Intersects({geom}, {env}))"


def feature_object(alias: str, properties: tuple[str, ...]) -> str:
    """A GeoJSON Feature built by PostGIS from one row."""
    if len(properties) > MAX_PROPERTIES:
        raise ValueError(f"at most {MAX_PROPERTIES} properties can be built in one object")
    props = ", ".join(f"'{p}', {alias}.{p}" for p in properties)
    return (
        f"json_build_object('type', 'Feature', 'id', {alias}.id, "
        f"'geometry', ST_AsGeoJSON({alias}.geom, {GEOJSON_DECIMALS})::json, "
        f"'properties', json_build_object({props}))"
    )


def feature_array(inner_select: str) -> str:
    """Wrap a SELECT yielding (id, feature) into one JSON array text and a row count."""
    return (
        "SELECT coalesce(json_agg(page.feature ORDER BY page.id), '[]'::json)::text AS features, "
        f"count(*) AS returned FROM ({inner_select}) AS page"
    )


def extent_sql(table: str) -> str:
    return (
        "SELECT ST_XMin(e) AS minx, ST_YMin(e) AS miny, ST_XMax(e) AS maxx, ST_YMax(e) AS maxy "
        f"FROM (SELECT ST_Extent(geom) AS e FROM {table}) AS s"
    )


def like_pattern(word: str) -> str:
    """A LIKE pattern matching `word` anywhere, with its wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def geometry_report_sql() -> str:
    """Everything the write checks need to know about `:geometry` (GeoJSON text), in one row."""
    return """
        WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326) AS geom),
             d AS (SELECT geom, ST_IsValidDetail(geom) AS detail FROM g)
        SELECT ST_IsEmpty(geom) AS empty, ST_NPoints(geom) AS points,
               coalesce(ST_XMin(geom), 0) AS xmin, coalesce(ST_YMin(geom), 0) AS ymin,
               coalesce(ST_XMax(geom), 0) AS xmax, coalesce(ST_YMax(geom), 0) AS ymax,
               ST_Within(geom, ST_MakeEnvelope(:wa_minx, :wa_miny, :wa_maxx, :wa_maxy, 4326)) AS inside,
               (detail).valid AS valid, (detail).reason AS reason,
               ST_AsGeoJSON((detail).location, 7) AS location,
               CASE WHEN NOT (detail).valid THEN ST_AsGeoJSON(ST_MakeValid(geom), 7) END AS repaired
          FROM d
    """


def overlap_sql(table: str) -> str:
    """Features of `table` sharing area (not just a border) with `:geometry`, and the shared part."""
    return f"""
        WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326) AS geom)
        SELECT coalesce(array_agg(t.id ORDER BY t.id), '{{}}') AS ids,
               ST_AsGeoJSON(ST_Union(ST_Intersection(t.geom, g.geom)), 7) AS overlap
          FROM {table} AS t, g
         WHERE t.geom && g.geom AND ST_Relate(t.geom, g.geom, '2********') AND t.id <> :self_id
    """
