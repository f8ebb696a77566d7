"""Made-up places for tests that need a district of their own."""

from __future__ import annotations

from sqlalchemy import text


def district_off_the_coast(engine, committed, code: str, name: str, relic: dict) -> str:
    """A small district east of the province, named `name`, with one relic (name, kind, rank) in it."""
    with engine.connect() as conn:
        spot = conn.execute(
            text(
                "SELECT ST_XMax(e) + 0.05 AS lon, (ST_YMin(e) + ST_YMax(e)) / 2 AS lat "
                "FROM (SELECT ST_Extent(geom) AS e FROM admin_units WHERE level = 'district') d"
            )
        ).mappings().one()
    committed(
        "admin_units", "code, name, level, geom",
        ":code, :name, 'district', ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0.01))",
        {"code": code, "name": name, **spot},
    )
    committed(
        "relics", "name, kind, rank, geom",
        ":relic_name, :kind, :rank, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
        {"relic_name": relic["name"], "kind": relic["kind"], "rank": relic["rank"], **spot},
    )
    return name
