"""What the database derives by itself: area, district and commune, versions, checks."""

from __future__ import annotations

import pytest
from pyproj import Geod
from shapely import wkt as shapely_wkt
from shapely.geometry import box
from shapely.geometry.polygon import orient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from layers import REGISTRY

GEOD = Geod(ellps="WGS84")
# A point in the Gulf of Tonkin, far outside Nam Định and any admin unit.
OUTSIDE = (107.5, 19.0)


def geod_hectares(wkt: str) -> float:
    """Area on the WGS 84 ellipsoid by pyproj, holes counted out whatever the ring order."""
    geom = shapely_wkt.loads(wkt)
    parts = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    # pyproj signs each ring by its orientation: exterior counter-clockwise, holes clockwise.
    area = sum(GEOD.geometry_area_perimeter(orient(p, sign=1.0))[0] for p in parts)
    return area / 10_000


def communes_in_two_districts(conn):
    """Two communes, in different districts, with a point well inside each."""
    rows = conn.execute(
        text(
            """
            SELECT DISTINCT ON (c.parent_code)
                   c.code, c.name, d.code AS district_code, d.name AS district,
                   ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat
              FROM admin_units c JOIN admin_units d ON d.code = c.parent_code AND d.level = 'district'
             WHERE c.level = 'commune'
             ORDER BY c.parent_code, ST_Area(c.geom) DESC
            """
        )
    ).mappings().all()
    assert len(rows) >= 2, "the sample should have communes in several districts"
    return rows[0], rows[-1]


def square(lon: float, lat: float, half: float = 0.0005) -> str:
    return box(lon - half, lat - half, lon + half, lat + half).wkt


def insert_zone(conn, geom_wkt: str, **values) -> int:
    row = {"name": "Vùng thử", "crop": "rice"} | values
    columns = ", ".join(row)
    placeholders = ", ".join(f":{c}" for c in row)
    return conn.execute(
        text(
            f"INSERT INTO farming_zones ({columns}, geom) "
            f"VALUES ({placeholders}, ST_Multi(ST_GeomFromText(:wkt, 4326))) RETURNING id"
        ),
        row | {"wkt": geom_wkt},
    ).scalar_one()


def fetch(conn, table: str, feature_id: int):
    return conn.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": feature_id}).mappings().one()


# --- area ------------------------------------------------------------------


@pytest.mark.parametrize(
    "geom_wkt",
    [
        # ~1 km square near Nam Định city
        box(106.16, 20.40, 106.17, 20.41).wkt,
        # a polygon with a hole
        "POLYGON((106.10 20.30, 106.14 20.30, 106.14 20.33, 106.10 20.33, 106.10 20.30),"
        "(106.11 20.31, 106.12 20.31, 106.12 20.32, 106.11 20.32, 106.11 20.31))",
        # two parts
        "MULTIPOLYGON(((106.20 20.20, 106.21 20.20, 106.21 20.21, 106.20 20.20)),"
        "((106.30 20.25, 106.33 20.25, 106.33 20.27, 106.30 20.27, 106.30 20.25)))",
        # a tiny field of a few hundred square metres
        box(106.25, 20.25, 106.2502, 20.2501).wkt,
    ],
    ids=["square", "hole", "multi", "tiny"],
)
def test_area_is_computed_on_the_spheroid(conn, geom_wkt):
    zone = insert_zone(conn, geom_wkt)
    row = conn.execute(
        text("SELECT area_ha, ST_Area(geom::geography) / 10000 AS expected FROM farming_zones WHERE id = :id"),
        {"id": zone},
    ).one()
    assert row.area_ha == pytest.approx(row.expected, abs=1e-4)
    assert row.area_ha == pytest.approx(geod_hectares(geom_wkt), rel=0.005)


def test_area_sent_by_a_client_is_refused_and_nothing_is_written(conn):
    """The area is the database's own (a generated column): a value from elsewhere cannot get in."""
    geom_wkt = box(106.16, 20.40, 106.17, 20.41).wkt
    before = conn.execute(text("SELECT count(*) FROM farming_zones")).scalar_one()
    savepoint = conn.begin_nested()
    with pytest.raises(ProgrammingError, match="area_ha"):
        insert_zone(conn, geom_wkt, area_ha=123456.0)
    savepoint.rollback()
    assert conn.execute(text("SELECT count(*) FROM farming_zones")).scalar_one() == before
    zone = insert_zone(conn, geom_wkt)
    assert fetch(conn, "farming_zones", zone)["area_ha"] == pytest.approx(geod_hectares(geom_wkt), rel=0.005)


def test_area_follows_a_new_geometry(conn):
    zone = insert_zone(conn, box(106.16, 20.40, 106.17, 20.41).wkt)
    bigger = box(106.16, 20.40, 106.19, 20.42).wkt
    conn.execute(
        text("UPDATE farming_zones SET geom = ST_Multi(ST_GeomFromText(:wkt, 4326)) WHERE id = :id"),
        {"wkt": bigger, "id": zone},
    )
    assert fetch(conn, "farming_zones", zone)["area_ha"] == pytest.approx(geod_hectares(bigger), rel=0.005)


def test_aquaculture_areas_get_an_area_too(conn):
    geom_wkt = box(106.45, 20.20, 106.47, 20.22).wkt
    new_id = conn.execute(
        text(
            "INSERT INTO aquaculture_areas (name, species, water_type, geom) "
            "VALUES ('Đầm thử', 'shrimp', 'brackish', ST_Multi(ST_GeomFromText(:wkt, 4326))) RETURNING id"
        ),
        {"wkt": geom_wkt},
    ).scalar_one()
    assert fetch(conn, "aquaculture_areas", new_id)["area_ha"] == pytest.approx(geod_hectares(geom_wkt), rel=0.005)


# --- district and commune --------------------------------------------------


def test_place_is_derived_from_admin_units(conn):
    first, _ = communes_in_two_districts(conn)
    zone = insert_zone(conn, square(first["lon"], first["lat"]))
    row = fetch(conn, "farming_zones", zone)
    assert (row["district"], row["district_code"]) == (first["district"], first["district_code"])
    assert (row["commune"], row["commune_code"]) == (first["name"], first["code"])


def test_place_of_a_point_layer(conn):
    first, _ = communes_in_two_districts(conn)
    relic = conn.execute(
        text(
            "INSERT INTO relics (name, kind, rank, geom) "
            "VALUES ('Đình thử', 'communal_house', 'unranked', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
        ),
        {"lon": first["lon"], "lat": first["lat"]},
    ).scalar_one()
    row = fetch(conn, "relics", relic)
    assert (row["district"], row["commune"]) == (first["district"], first["name"])


def test_moving_to_another_district_updates_the_place(conn):
    first, second = communes_in_two_districts(conn)
    assert first["district_code"] != second["district_code"]
    zone = insert_zone(conn, square(first["lon"], first["lat"]))
    conn.execute(
        text("UPDATE farming_zones SET geom = ST_Multi(ST_GeomFromText(:wkt, 4326)) WHERE id = :id"),
        {"wkt": square(second["lon"], second["lat"]), "id": zone},
    )
    row = fetch(conn, "farming_zones", zone)
    assert (row["district"], row["district_code"]) == (second["district"], second["district_code"])
    assert (row["commune"], row["commune_code"]) == (second["name"], second["code"])


def test_outside_the_province_has_no_place(conn):
    zone = insert_zone(conn, square(*OUTSIDE), district="Giả mạo", commune="Giả mạo")
    row = fetch(conn, "farming_zones", zone)
    assert row["district"] is None and row["district_code"] is None
    assert row["commune"] is None and row["commune_code"] is None


def test_moving_out_of_the_province_clears_the_place(conn):
    first, _ = communes_in_two_districts(conn)
    relic = conn.execute(
        text(
            "INSERT INTO relics (name, kind, rank, geom) "
            "VALUES ('Chùa thử', 'pagoda', 'unranked', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
        ),
        {"lon": first["lon"], "lat": first["lat"]},
    ).scalar_one()
    assert fetch(conn, "relics", relic)["district"] == first["district"]
    conn.execute(
        text("UPDATE relics SET geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) WHERE id = :id"),
        {"lon": OUTSIDE[0], "lat": OUTSIDE[1], "id": relic},
    )
    row = fetch(conn, "relics", relic)
    assert row["district"] is None and row["commune"] is None


def test_expired_units_are_not_used(conn):
    """Units change over time: a district whose validity ended does not name new features."""
    first, _ = communes_in_two_districts(conn)
    conn.execute(
        text("UPDATE admin_units SET valid_to = current_date - 1 WHERE code IN (:d, :c)"),
        {"d": first["district_code"], "c": first["code"]},
    )
    zone = insert_zone(conn, square(first["lon"], first["lat"]))
    row = fetch(conn, "farming_zones", zone)
    assert row["district"] is None and row["commune"] is None


# --- versions and timestamps -----------------------------------------------


def test_new_rows_start_at_version_one(conn):
    zone = insert_zone(conn, box(106.16, 20.40, 106.17, 20.41).wkt, version=42)
    row = fetch(conn, "farming_zones", zone)
    assert row["version"] == 1
    assert row["created_at"] == row["updated_at"]


def test_updates_bump_version_and_updated_at_but_keep_created_at(committed, engine):
    relic = committed(
        "relics", "name, kind, rank, geom",
        "'Đền thử phiên bản', 'temple', 'unranked', ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326)",
    )
    with engine.connect() as c:
        before = fetch(c, "relics", relic)
    assert before["version"] == 1
    # Each statement in its own transaction, so now() moves on.
    with engine.begin() as c:
        c.execute(text("UPDATE relics SET rank = 'provincial' WHERE id = :id"), {"id": relic})
    with engine.connect() as c:
        after = fetch(c, "relics", relic)
    assert after["version"] == 2
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    # A client cannot rewrite history or pick a version.
    with engine.begin() as c:
        c.execute(
            text("UPDATE relics SET created_at = '2000-01-01', version = 99, name = 'Đền thử 2' WHERE id = :id"),
            {"id": relic},
        )
    with engine.connect() as c:
        last = fetch(c, "relics", relic)
    assert last["version"] == 3
    assert last["created_at"] == before["created_at"]
    assert last["updated_at"] > after["updated_at"]


def test_moving_a_feature_bumps_its_version(conn):
    zone = insert_zone(conn, box(106.16, 20.40, 106.17, 20.41).wkt)
    conn.execute(
        text("UPDATE farming_zones SET geom = ST_Translate(geom, 0.01, 0) WHERE id = :id"), {"id": zone}
    )
    assert fetch(conn, "farming_zones", zone)["version"] == 2


# --- enum checks -----------------------------------------------------------

GEOMETRY_SQL = {
    "Point": "ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326)",
    "Geometry": "ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326)",
    "Polygon": "ST_MakeEnvelope(106.16, 20.40, 106.17, 20.41, 4326)",
    "MultiPolygon": "ST_Multi(ST_MakeEnvelope(106.16, 20.40, 106.17, 20.41, 4326))",
}


def valid_row(layer) -> dict:
    row = {}
    for f in layer.fields:
        if f.kind == "enum":
            row[f.name] = f.choices[0].value
        elif f.required:
            row[f.name] = "T1"
    return row


def insert_row(conn, layer, row: dict) -> int:
    columns = ", ".join((*row, "geom"))
    values = ", ".join((*(f":{c}" for c in row), GEOMETRY_SQL[layer.geometry]))
    return conn.execute(text(f"INSERT INTO {layer.id} ({columns}) VALUES ({values}) RETURNING id"), row).scalar_one()


ENUMS = [(layer.id, f.name) for layer in REGISTRY.values() for f in layer.fields if f.kind == "enum"]


@pytest.mark.parametrize(("layer_id", "field_name"), ENUMS, ids=[f"{a}.{b}" for a, b in ENUMS])
def test_enum_checks_reject_unknown_values(conn, layer_id, field_name):
    layer = REGISTRY[layer_id]
    row = valid_row(layer)
    # Every declared value is accepted...
    for choice in layer.field(field_name).choices:
        with conn.begin_nested():
            insert_row(conn, layer, row | {field_name: choice.value})
    # ...and anything else is not, even the label or another case.
    label = layer.field(field_name).choices[0].en
    for bad in ("not_a_value", row[field_name].upper(), label, "", f"{row[field_name]} "):
        if bad == row[field_name]:
            continue
        with pytest.raises(IntegrityError, match="check constraint"):
            with conn.begin_nested():
                insert_row(conn, layer, row | {field_name: bad})


def test_required_fields_are_enforced(conn):
    layer = REGISTRY["relics"]
    row = valid_row(layer)
    for name in row:
        if layer.field(name).required:
            with pytest.raises(IntegrityError):
                with conn.begin_nested():
                    insert_row(conn, layer, {k: v for k, v in row.items() if k != name})


def test_geometry_type_and_srid_are_enforced(conn):
    with pytest.raises(Exception, match="(?i)geometry|srid"):
        with conn.begin_nested():
            conn.execute(
                text(
                    "INSERT INTO relics (name, kind, rank, geom) "
                    "VALUES ('x', 'temple', 'national', ST_MakeEnvelope(106, 20, 106.1, 20.1, 4326))"
                )
            )
    with pytest.raises(Exception, match="(?i)srid"):
        with conn.begin_nested():
            conn.execute(
                text(
                    "INSERT INTO relics (name, kind, rank, geom) "
                    "VALUES ('x', 'temple', 'national', ST_SetSRID(ST_MakePoint(600000, 2200000), 32648))"
                )
            )


def test_an_attribute_update_cannot_overwrite_derived_values(conn):
    geom_wkt = box(106.16, 20.40, 106.17, 20.41).wkt
    zone = insert_zone(conn, geom_wkt)
    before = fetch(conn, "farming_zones", zone)
    with pytest.raises(ProgrammingError, match="area_ha"), conn.begin_nested():
        conn.execute(text("UPDATE farming_zones SET area_ha = 1 WHERE id = :id"), {"id": zone})
    conn.execute(text("UPDATE farming_zones SET district = 'Fake', commune = 'Fake' WHERE id = :id"), {"id": zone})
    after = fetch(conn, "farming_zones", zone)
    assert after["area_ha"] == pytest.approx(geod_hectares(geom_wkt), rel=0.005)
    assert (after["district"], after["commune"]) == (before["district"], before["commune"])
    assert after["district"] is not None


def test_the_database_refuses_an_invalid_shape_from_any_path(conn):
    bowtie = "POLYGON((106.30 20.20, 106.31 20.21, 106.31 20.20, 106.30 20.21, 106.30 20.20))"
    with pytest.raises(IntegrityError, match="geom_valid"):
        with conn.begin_nested():
            insert_zone(conn, bowtie)
