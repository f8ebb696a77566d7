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


def extent_sql(table: str, where: str = "", temporal: tuple[str, str] | None = None) -> str:
    """How many rows of `table` (as `t`) match `where`, and their extent (NULLs when none); with the
    `temporal` (start, end) columns, their span too (`first`, `last`), open where any row leaves it open."""
    span, spanned = "", ""
    if temporal:
        start, end = temporal
        span = (f", CASE WHEN bool_and(t.{start} IS NOT NULL) THEN min(t.{start}) END AS first"
                f", CASE WHEN bool_and(t.{end} IS NOT NULL) THEN max(t.{end}) END AS last")
        spanned = ", first, last"
    return (
        f"SELECT n, ST_XMin(e) AS minx, ST_YMin(e) AS miny, ST_XMax(e) AS maxx, ST_YMax(e) AS maxy{spanned} "
        f"FROM (SELECT count(*) AS n, ST_Extent(t.geom) AS e{span} FROM {table} AS t{where}) AS s"
    )


def like_pattern(word: str) -> str:
    """A LIKE pattern matching `word` anywhere, with its wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def geometry_verdict(geom: str) -> str:
    """What keeps `geom` out of a layer, as text, or NULL: the one rule set of writes and imports.

    The first failing rule wins. Binds :accepted (GeometryType names),
    :accepted_text, :max_vertices and the working area :wa_minx ... :wa_maxy.
    """
    area = "ST_MakeEnvelope(:wa_minx, :wa_miny, :wa_maxx, :wa_maxy, 4326)"
    return f"""CASE
      WHEN {geom} IS NULL THEN 'is missing: no coordinates, or ones that are no numbers'  -- a table's row, a null feature
      WHEN ST_IsEmpty({geom}) THEN 'is empty'
      WHEN GeometryType({geom}) <> ALL(:accepted)  -- named as GeoJSON does (ST_GeometryType less 'ST_'), as single writes name it
        THEN 'type ' || substr(ST_GeometryType({geom}), 4) || ' not accepted here; expected ' || :accepted_text
      WHEN ST_NPoints({geom}) > :max_vertices
        THEN 'has ' || ST_NPoints({geom})::text || ' vertices; at most ' || CAST(:max_vertices AS text)
      WHEN NOT ST_IsValid({geom}) THEN 'invalid: ' || (ST_IsValidDetail({geom})).reason
      WHEN NOT ST_Within({geom}, {area}) AND ST_Within(ST_FlipCoordinates({geom}), {area})
        THEN 'longitude and latitude look swapped: longitude comes first'
      WHEN NOT {in_degrees(geom)}
        THEN 'coordinates out of range: longitude first, then latitude, in degrees (EPSG:4326)'
      WHEN NOT ST_Within({geom}, {area}) THEN 'lies outside the working area of the province'
    END"""


def in_degrees(geom: str) -> str:
    """Whether `geom` lies within longitude -180..180 and latitude -90..90 (what the spheroid can measure)."""
    return f"(ST_XMin({geom}) >= -180 AND ST_XMax({geom}) <= 180 AND ST_YMin({geom}) >= -90 AND ST_YMax({geom}) <= 90)"


def area_ha(geom: str) -> str:
    """The area of `geom` in hectares on the spheroid, to 4 decimals: what a layer's area_ha holds."""
    return f"round((ST_Area({geom}::geography) / 10000.0)::numeric, 4)::double precision"


def invalid_location(geom: str, problem: str) -> str:
    """Where a shape goes wrong, as GeoJSON, when its verdict `problem` is that it is invalid; else NULL."""
    return f"CASE WHEN {problem} LIKE 'invalid: %' THEN ST_AsGeoJSON((ST_IsValidDetail({geom})).location, 7) END"


def geometry_report_sql() -> str:
    """The verdict on `:geometry` (GeoJSON text), and where it is invalid and a repaired shape, when that is the verdict."""
    return f"""
        WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326) AS geom),
             judged AS (SELECT geom, {geometry_verdict("geom")} AS problem FROM g)
        SELECT problem, {invalid_location("geom", "problem")} AS location,
               CASE WHEN problem LIKE 'invalid: %' THEN ST_AsGeoJSON(ST_MakeValid(geom), 7) END AS repaired
          FROM judged
    """


def shares_area(a: str, b: str) -> str:
    """Whether the shapes of aliases `a` and `b` share area (touching edges do not), index first.

    The one overlap rule of single writes and imports.
    """
    return f"{a}.geom && {b}.geom AND ST_Relate({a}.geom, {b}.geom, '2********')"


def overlap_sql(table: str) -> str:
    """Features of `table` sharing area (not just a border) with `:geometry`, and the shared part."""
    return f"""
        WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326) AS geom)
        SELECT coalesce(array_agg(t.id ORDER BY t.id), '{{}}') AS ids,
               ST_AsGeoJSON(ST_Union(ST_Intersection(t.geom, g.geom)), 7) AS overlap
          FROM {table} AS t, g
         WHERE {shares_area('t', 'g')} AND t.id <> :self_id
    """


# Mapbox Vector Tile grid: 4096 units a side, and a 64-unit border so that
# lines and point symbols crossing a tile's edge are drawn whole by both tiles.
MVT_EXTENT = 4096
MVT_BORDER = 1 / 64  # of a tile's side, around it, so that shapes crossing its edge join up
# Below zoom 12 a tile has one unit per pixel of a 512-pixel tile: what is
# smaller than a pixel, which nobody can see there, drops out. 100,000 zones
# in one zoom-8 tile took 6.5 MB at 4,096 units, 0.36 MB at 512.
COARSE_BELOW_ZOOM = 12
COARSE_EXTENT = 512


def tile_extent(z: int) -> int:
    """Units a side of a tile at zoom `z`."""
    return COARSE_EXTENT if z < COARSE_BELOW_ZOOM else MVT_EXTENT


def tile_sql(table: str, columns: tuple[str, ...], where: str = "", extent: int = MVT_EXTENT) -> str:
    """One Mapbox Vector Tile of `table` (alias `t`), as one bytea built by PostGIS.

    Binds :z, :x, :y (the Web Mercator tile) and :tile_layer (the MVT layer's
    name). `columns` become the features' properties and `id` their feature id;
    `where` is an optional " WHERE ..." over `t` that narrows the features;
    `extent` is the tile's units a side (tile_extent).
    The envelope, with the border, is taken to EPSG:4326 so the GiST index on
    `geom` picks the candidates; ST_AsMVTGeom clips them, and drops (as NULL,
    which ST_AsMVT skips) what lies only in the bounding box's corners or
    shrinks below one unit.

    `OFFSET 0` fences the candidates off: costed together with ST_AsMVTGeom,
    the planner chose a parallel sequential scan, 50 ms for a zoom-14 tile of
    100,000 zones that the index serves in 3 ms. Tiles are thus built serially,
    which also keeps a tile's encoding stable between requests.
    """
    props = "".join(f", t.{c}" for c in columns)
    index_filter = f"t.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {MVT_BORDER}), 4326)"
    condition = f"{where} AND {index_filter}" if where else f" WHERE {index_filter}"
    return (
        f"SELECT ST_AsMVT(tile, :tile_layer, {extent}, 'geom', 'id') FROM ("
        f"SELECT t.id, ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope(:z, :x, :y), "
        f"{extent}, {round(extent * MVT_BORDER)}, true) AS geom{props} "
        f"FROM (SELECT t.id, t.geom{props} FROM {table} AS t{condition} OFFSET 0) AS t) AS tile"
    )
