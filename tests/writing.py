"""Helpers shared by the write, auth, history and validation tests.

Test features are named with MARK so that whatever a test creates (even one
that fails half way) is removed afterwards, with its history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from layers.accounts import create_token, create_user

MARK = "zz-test"
PASSWORD = "correct horse"
EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
# Nam Trực and Giao Thủy in the sample: the editors' "inside" and "outside".
INSIDE = "362"
OUTSIDE = "365"
ITEMS = "/ogc/collections/{layer}/items"


# --- places and bodies -----------------------------------------------------


_CELLS: dict[tuple[str, float], list[tuple[float, float]]] = {}


def district_cells(engine, district: str, size: float) -> list[tuple[float, float]]:
    """South-west corners of a grid of size° squares lying well inside `district`; computed once."""
    key = (district, size)
    if key not in _CELLS:
        with engine.connect() as c:
            _CELLS[key] = [
                (round(x, 7), round(y, 7))
                for x, y in c.execute(
                    text(
                        """
                        WITH d AS (SELECT geom FROM admin_units WHERE level = 'district' AND code = :code),
                             cells AS (
                               SELECT x, y, ST_MakeEnvelope(x, y, x + :s, y + :s, 4326) AS cell
                                 FROM d,
                                      generate_series(ST_XMin(d.geom)::numeric, ST_XMax(d.geom)::numeric, CAST(:step AS numeric)) AS x,
                                      generate_series(ST_YMin(d.geom)::numeric, ST_YMax(d.geom)::numeric, CAST(:step AS numeric)) AS y)
                        SELECT x::float8, y::float8 FROM cells, d WHERE ST_Within(ST_Buffer(cell, :s), d.geom) ORDER BY y, x
                        """
                    ),
                    {"code": district, "s": size, "step": size * 2},
                )
            ]
    return _CELLS[key]


def free_cell(engine, district: str, size: float = 0.002, skip: int = 0) -> tuple[float, float]:
    """South-west corner of a size° square inside `district` near no test or sample zone.

    Deterministic: the first free cell of a grid, so two calls in a row give
    the same cell unless something was saved there in between (or `skip`).
    """
    cells = district_cells(engine, district, size)
    with engine.connect() as c:
        row = c.execute(
            text(
                """
                SELECT x, y FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS g (x, y, n),
                     LATERAL (SELECT ST_MakeEnvelope(x, y, x + :s, y + :s, 4326) AS cell) AS e
                 WHERE NOT EXISTS (SELECT 1 FROM farming_zones t WHERE ST_DWithin(t.geom, e.cell, :s))
                   AND NOT EXISTS (SELECT 1 FROM aquaculture_areas t WHERE ST_DWithin(t.geom, e.cell, :s))
                   AND NOT EXISTS (SELECT 1 FROM craft_villages t WHERE ST_DWithin(t.geom, e.cell, :s))
                 ORDER BY n OFFSET :skip LIMIT 1
                """
            ),
            {"xs": [x for x, _ in cells], "ys": [y for _, y in cells], "s": size, "skip": skip},
        ).one()
    return row.x, row.y


def square(x: float, y: float, size: float = 0.002) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def farming_body(geometry: dict, **props) -> dict:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"name": f"{MARK} ruộng", "crop": "rice", **props}}


def aquaculture_body(geometry: dict, **props) -> dict:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"name": f"{MARK} ao", "species": "shrimp", "water_type": "brackish", **props}}


def items_url(layer: str, feature_id: int | None = None, suffix: str = "") -> str:
    url = ITEMS.format(layer=layer)
    return url if feature_id is None else f"{url}/{feature_id}{suffix}"


# --- the database as the tests see it --------------------------------------


def insert_feature(engine, layer: str, props: dict, geometry: dict, user: str = "fixture") -> int:
    """A committed zone written as a plain SQL client would; the trigger records it."""
    columns = list(props)
    with engine.begin() as c:
        c.execute(text("SELECT set_config('vung.user', :u, true)"), {"u": user})
        return c.execute(
            text(
                f"INSERT INTO {layer} ({', '.join([*columns, 'geom'])}) VALUES "
                f"({', '.join([*(':' + k for k in columns), 'ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326))'])}) "
                "RETURNING id"
            ),
            {**props, "g": json.dumps(geometry)},
        ).scalar_one()


def update_name(engine, layer: str, feature_id: int, name: str, user: str = "fixture") -> None:
    with engine.begin() as c:
        c.execute(text("SELECT set_config('vung.user', :u, true)"), {"u": user})
        c.execute(text(f"UPDATE {layer} SET name = :n WHERE id = :id"), {"n": name, "id": feature_id})


def row_of(engine, layer: str, feature_id: int) -> dict | None:
    """The whole stored row, geometry as WKT, so any change shows."""
    with engine.connect() as c:
        row = c.execute(
            text(f"SELECT to_jsonb(t) - 'geom' AS props, ST_AsText(t.geom) AS wkt FROM {layer} t WHERE id = :id"),
            {"id": feature_id},
        ).one_or_none()
    return None if row is None else {**row.props, "wkt": row.wkt}


def history_of(engine, layer: str, feature_id: int) -> list[tuple]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                text(
                    "SELECT id, version, operation, username, properties->>'name' FROM feature_history "
                    "WHERE layer = :l AND feature_id = :id ORDER BY id"
                ),
                {"l": layer, "id": feature_id},
            )
        ]


def snapshot(engine, layer: str, feature_id: int) -> tuple:
    return row_of(engine, layer, feature_id), history_of(engine, layer, feature_id)


def layer_state(engine, layer: str) -> tuple:
    """Rows of the layer and every history row: a rejected write changes neither."""
    with engine.connect() as c:
        rows = c.execute(text(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM {layer} t")).one()
        history = c.execute(text("SELECT count(*), coalesce(max(id), 0) FROM feature_history")).one()
    return tuple(rows), tuple(history)


def remove_test_features(engine) -> None:
    with engine.begin() as c:
        for layer in EDITABLE:
            c.execute(text(f"DELETE FROM {layer} WHERE name LIKE :m"), {"m": MARK + "%"})
        c.execute(
            text("DELETE FROM feature_history WHERE properties->>'name' LIKE :m"), {"m": MARK + "%"}
        )


@pytest.fixture(autouse=True)
def clean_features(engine):
    yield
    remove_test_features(engine)


# --- who is asking ---------------------------------------------------------


@dataclass
class Actor:
    """A client with the credentials of one way in (session + CSRF, token, or none)."""

    client: FlaskClient
    headers: dict = field(default_factory=dict)
    username: str | None = None

    def call(self, method: str, url: str, json=None, headers: dict | None = None, **kw):
        return self.client.open(url, method=method, json=json, headers={**self.headers, **(headers or {})}, **kw)

    def get(self, url: str, **kw):
        return self.call("GET", url, **kw)

    def post(self, url: str, json=None, **kw):
        return self.call("POST", url, json=json, **kw)

    def put(self, url: str, json=None, **kw):
        return self.call("PUT", url, json=json, **kw)

    def patch(self, url: str, json=None, **kw):
        return self.call("PATCH", url, json=json, **kw)

    def delete(self, url: str, **kw):
        return self.call("DELETE", url, **kw)


def session_login(app: Flask, username: str, password: str = PASSWORD) -> Actor:
    """Log in through POST /login as the login form does, then take the CSRF token from /auth/me."""
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "csrf-before-login"
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": "csrf-before-login"}
    )
    assert response.status_code == 303, (response.status_code, response.get_data(as_text=True)[:300])
    me = client.get("/auth/me")
    assert me.status_code == 200, me.get_data(as_text=True)
    token = me.get_json()["csrfToken"]
    assert token and token != "csrf-before-login"
    return Actor(client, {"X-CSRF-Token": token}, username)


def token_actor(app: Flask, token: str, username: str | None = None) -> Actor:
    return Actor(app.test_client(), {"Authorization": f"Bearer {token}"}, username)


def new_token(engine, username: str, name: str = "tests") -> str:
    with engine.begin() as c:
        return create_token(c, username, name)


def add_user(engine, username: str, role: str, layers=None, districts=None) -> None:
    with engine.begin() as c:
        c.execute(text("DELETE FROM users WHERE lower(username) = lower(:u)"), {"u": username})
        create_user(c, username, PASSWORD, role, layers, districts)


def drop_users(engine, usernames) -> None:
    with engine.begin() as c:
        c.execute(text("DELETE FROM users WHERE username = ANY(:u)"), {"u": list(usernames)})


def clear_login_attempts(engine) -> None:
    with engine.begin() as c:
        c.execute(text("DELETE FROM login_attempts"))


def etag(actor_or_client, layer: str, feature_id: int) -> str:
    client = actor_or_client.client if isinstance(actor_or_client, Actor) else actor_or_client
    response = client.get(items_url(layer, feature_id))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.headers["ETag"]


def error_of(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert isinstance(body.get("description"), str) and body["description"]
    # Only the fields of the API's errors: nothing internal leaks into one.
    assert set(body) <= {"code", "description", "errors", "repaired", "count", "limit", "current_version"}, body
    if code:
        assert body["code"] == code, body
    return body


def messages(body: dict, field_name: str) -> list[str]:
    return [e["message"] for e in body.get("errors", []) if e["field"] == field_name]
