"""Published maps: the standalone HTML file (/publish and `flask publish`) and the embeddable page's headers."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from app import create_app
from layers import REGISTRY
from layers.publish import MAX_FEATURES
from tests.conftest import signed_in

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "leaflet"
XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
URL = re.compile(r"https?://[^\s\"'<>()\\]+")


# --- helpers ---------------------------------------------------------------


def publish(client, status: int = 200, **params):
    response = client.get(f"/publish?{urlencode(params)}")
    assert response.status_code == status, (params, response.status_code, response.get_data(as_text=True)[:300])
    return response


def collections(html: str) -> dict[str, dict]:
    """The GeoJSON embedded in the page, one FeatureCollection per layer."""
    found = {}
    for raw in re.findall(r"_add\((\{.*\})\);\s*$", html, flags=re.M):
        collection = json.loads(raw)
        assert collection["type"] == "FeatureCollection"
        found[collection["layer"]] = collection
    return found


def embedded_ids(html: str) -> dict[str, list[int]]:
    return {layer: sorted(f["id"] for f in c["features"]) for layer, c in collections(html).items()}


def popup_config(html: str) -> dict:
    return json.loads(re.search(r"var VUNG_PUBLISHED = (\{.*\});$", html, flags=re.M).group(1))


def ids(engine, sql: str, **params) -> list[int]:
    with engine.connect() as c:
        return sorted(c.execute(text(sql), params).scalars())


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def library_urls() -> set[str]:
    """Addresses written in Leaflet's own code and stylesheet (comments, the SVG namespace): never fetched."""
    return {url for name in ("leaflet.js", "leaflet.css") for url in URL.findall((VENDOR / name).read_text())}


# --- the standalone file ---------------------------------------------------


def test_publish_holds_exactly_the_filtered_features(client, engine):
    response = publish(client, layers="relics,craft_villages", **{"relics.rank": "national,special_national"})
    assert response.mimetype == "text/html"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.html"')
    found = embedded_ids(response.get_data(as_text=True))
    assert found == {
        "relics": ids(engine, "SELECT id FROM relics WHERE rank IN ('national', 'special_national')"),
        "craft_villages": ids(engine, "SELECT id FROM craft_villages"),
    }
    assert 0 < len(found["relics"]) < scalar(engine, "SELECT count(*) FROM relics")


def test_a_plain_filter_applies_to_every_layer_that_has_it(client, engine):
    district = scalar(engine, "SELECT district FROM relics GROUP BY district ORDER BY count(*) DESC, district LIMIT 1")
    html = publish(client, layers="relics,farming_zones", district=district).get_data(as_text=True)
    assert embedded_ids(html) == {
        "relics": ids(engine, "SELECT id FROM relics WHERE district = :d", d=district),
        "farming_zones": ids(engine, "SELECT id FROM farming_zones WHERE district = :d", d=district),
    }


def test_search_and_bbox_select_what_the_api_selects(client):
    params = {"q": "den tran", "bbox": "106.0,20.3,106.3,20.5"}
    html = publish(client, layers="relics", **params).get_data(as_text=True)
    api = client.get(f"/ogc/collections/relics/items?{urlencode({**params, 'limit': 10000})}").get_json()
    expected = sorted(f["id"] for f in api["features"])
    assert expected and embedded_ids(html) == {"relics": expected}


def test_layers_may_be_given_repeated_as_exports_take_them(client, engine):
    response = client.get("/publish?layers=relics&layers=craft_villages&relics.rank=national")
    assert response.status_code == 200
    assert embedded_ids(response.get_data(as_text=True)) == {
        "relics": ids(engine, "SELECT id FROM relics WHERE rank = 'national'"),
        "craft_villages": ids(engine, "SELECT id FROM craft_villages"),
    }


def test_features_carry_what_their_popups_show_and_no_more(client, engine):
    html = publish(client, layers="relics", lang="en").get_data(as_text=True)
    features = collections(html)["relics"]["features"]
    props = set().union(*(f["properties"] for f in features))
    layer = REGISTRY["relics"]
    shown = {f.name for f in layer.fields if f.popup}
    assert {"name", "kind", "rank", "district"} <= props
    # The English versions go along: the popup picks the reader's language.
    assert props <= shown | {f"{name}_en" for name in shown | {"name"}} | {"illustrative"}
    assert "source" not in props and "photo" not in props
    # The popup code knows the layer as the app's maps do: its declared fields, in the language asked for.
    config = popup_config(html)
    assert config["lang"] == "en"
    assert config["layers"]["relics"] == {"id": "relics", "fields": [f.config("en") for f in layer.fields]}
    rank = next(f for f in config["layers"]["relics"]["fields"] if f["name"] == "rank")
    assert rank["label"] == "Rank" and {"value": "special_national", "label": "Special national"} in rank["choices"]
    row = next(f for f in features if f["properties"].get("description_en"))
    english = scalar(engine, "SELECT description_en FROM relics WHERE id = :id", id=row["id"])
    assert row["properties"]["description_en"] == english


def test_no_address_outside_but_the_tiles_and_the_detail_pages(app, client, engine):
    html = publish(client, layers="relics,farming_zones").get_data(as_text=True)
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", html, flags=re.I)
    assert not re.search(r"<link[^>]*\shref=", html, flags=re.I)
    tiles = app.config["TILE_URL"]
    allowed = library_urls() | {tiles}
    outside = {url for url in URL.findall(html) if url not in allowed}
    # The detail pages are reached through the app's address, given once to the popups.
    assert outside == {"http://localhost/"}
    assert popup_config(html)["links"] == {"detailBase": "http://localhost/", "newTab": True}
    # The sample's sources are credited, and the base map's.
    credits = [unescape(json.loads(raw)) for raw in re.findall(r"addAttribution\((\".*?\")\);", html)]
    assert credits == app.config["DATA_ATTRIBUTION"]
    tile_credit = re.search(r'"attribution": (".*?"),', html).group(1)
    assert unescape(json.loads(tile_credit)) == app.config["TILE_ATTRIBUTION"]


def test_without_a_base_map_nothing_outside_at_all(engine, database_url):
    bare = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "TILE_URL": ""})
    html = bare.test_client().get("/publish?layers=relics").get_data(as_text=True)
    assert {url for url in URL.findall(html)} - library_urls() == {"http://localhost/"}
    assert "L.tileLayer(" not in html


def test_html_in_names_and_title_is_text(client, committed):
    relic = committed(
        "relics", "name, kind, rank, geom",
        ":name, 'temple', 'unranked', ST_SetSRID(ST_MakePoint(106.17, 20.43), 4326)",
        {"name": XSS_NAME},
    )
    title = "<b>Di tích</b> & <i>làng nghề</i>"
    html = publish(client, layers="relics", title=title).get_data(as_text=True)
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert "<b>Di tích</b>" not in html
    assert "<title>&lt;b&gt;Di tích&lt;/b&gt; &amp; &lt;i&gt;làng nghề&lt;/i&gt;</title>" in html
    feature = next(f for f in collections(html)["relics"]["features"] if f["id"] == relic)
    assert feature["properties"]["name"] == XSS_NAME
    # Popups are built from text nodes only.
    script = html[html.index("function vungPopup"):]
    script = script[: script.index("</script>")]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_a_selection_too_large_is_refused_before_it_is_read(client, engine):
    existing = scalar(engine, "SELECT count(*) FROM relics")
    extra = MAX_FEATURES - existing + 1
    with engine.begin() as c:
        made = c.execute(
            text(
                "INSERT INTO relics (name, kind, rank, geom) "
                "SELECT 'Bulk ' || n, 'other', 'unranked', "
                "ST_SetSRID(ST_MakePoint(106.0 + (n % 100) * 0.004, 20.2 + (n / 100) * 0.004), 4326) "
                "FROM generate_series(1, :extra) AS n RETURNING id"
            ),
            {"extra": extra},
        ).scalars().all()
    try:
        response = publish(client, 400, layers="relics")
        body = response.get_json()
        assert body["code"] == "TooManyFeatures"
        assert body["count"] == MAX_FEATURES + 1 and body["limit"] == MAX_FEATURES
        assert f"{MAX_FEATURES:,}" in body["description"]
        # Narrowed, the same layer publishes.
        narrowed = publish(client, layers="relics", **{"relics.rank": "special_national"}).get_data(as_text=True)
        assert embedded_ids(narrowed)["relics"] == ids(engine, "SELECT id FROM relics WHERE rank = 'special_national'")
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM relics WHERE id = ANY(:ids)"), {"ids": made})


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 400),
        ({"layers": ""}, 400),
        ({"layers": "nowhere"}, 400),
        ({"layers": "relics,nowhere"}, 400),
        ({"layers": "relics", "relics.rank": "emperor"}, 400),
        ({"layers": "relics", "rank": "emperor"}, 400),
        ({"layers": "relics", "crop": "rice"}, 400),
        ({"layers": "relics", "craft_villages.craft": "pottery"}, 400),
        ({"layers": "relics", "relics.secret": "1"}, 400),
        ({"layers": "relics", "bbox": "1,2,3"}, 400),
        ({"layers": "relics", "bbox": "106,20,105,21"}, 400),
        ({"layers": "relics", "limit": "10"}, 400),
        ({"layers": "relics", "offset": "10"}, 400),
        ({"layers": "relics", "q": "x" * 201}, 400),
        ({"layers": "relics", "title": "x" * 201}, 400),
        # Not a filterable field: refused before any SQL.
        ({"layers": "relics", "relics.name": "'; DROP TABLE relics; --"}, 400),
    ],
)
def test_bad_requests_get_a_clear_error(client, query, status):
    response = client.get(f"/publish?{urlencode(query)}", headers={"Accept": "application/json"})
    assert response.status_code == status, (query, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["code"] and body["description"]


@pytest.mark.parametrize("name", ["q", "district", "relics.district"])
def test_sql_in_a_filter_that_reaches_the_database_is_only_a_value(client, engine, name):
    html = publish(client, layers="relics", **{name: "x'); DROP TABLE relics; --"}).get_data(as_text=True)
    assert embedded_ids(html) == {"relics": []}
    assert scalar(engine, "SELECT to_regclass('public.relics') IS NOT NULL")
    assert embedded_ids(publish(client, layers="relics").get_data(as_text=True)) == {
        "relics": ids(engine, "SELECT id FROM relics")
    }


@pytest.mark.parametrize("name", ["limit", "offset", "relics.limit", "relics.offset", "craft_villages.offset"])
def test_paging_is_refused_plain_or_for_one_layer(client, name):
    query = {"layers": "relics,craft_villages", name: "5"}
    body = publish(client, 400, **query).get_json()
    assert body["code"] == "InvalidParameterValue"
    assert body["description"].startswith(f"{name}: not accepted here")


def test_the_command_line_refuses_paging_too(app, tmp_path):
    out = tmp_path / "paged.html"
    result = app.test_cli_runner().invoke(
        args=["publish", str(out), "--layers", "relics", "--filter", "relics.limit=5"],
    )
    assert result.exit_code != 0 and "relics.limit" in result.output
    assert not out.exists()


def test_layers_a_visitor_may_not_read_are_refused(app, client, make_user, private_relics):
    # Refused as exports refuse them: the layer is not confirmed to exist.
    for layers in ("relics", "craft_villages,relics"):
        assert publish(client, 400, layers=layers).get_json()["description"] == "layers: unknown layer 'relics'"
    viewer = signed_in(app, make_user("p-viewer", "viewer"))
    response = publish(viewer, layers="craft_villages,relics")
    assert "relics" in embedded_ids(response.get_data(as_text=True))
    assert "no-store" in response.headers["Cache-Control"]


def test_command_line_writes_the_same_map(app, engine, tmp_path):
    out = tmp_path / "relics.html"
    result = app.test_cli_runner().invoke(
        args=["publish", str(out), "--layers", "relics", "--filter", "relics.rank=national",
              "--lang", "vi", "--title", "Relics", "--base-url", "https://maps.example.org"],
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert embedded_ids(html) == {"relics": ids(engine, "SELECT id FROM relics WHERE rank = 'national'")}
    config = popup_config(html)
    assert config["links"]["detailBase"] == "https://maps.example.org/"
    assert config["lang"] == "vi"
    assert config["strings"]["details"] == "Xem chi tiết"  # translations/vi: the file is in the language asked for
    assert "<title>Relics</title>" in html

    bad = app.test_cli_runner().invoke(args=["publish", str(tmp_path / "x.html"), "--layers", "relics",
                                             "--filter", "relics.rank=emperor"])
    assert bad.exit_code != 0 and "emperor" in bad.output
    assert not (tmp_path / "x.html").exists()
    bad = app.test_cli_runner().invoke(args=["publish", str(tmp_path / "x.html"), "--layers", "relics",
                                             "--filter", "relics.rank"])
    assert bad.exit_code != 0 and "'relics.rank': expected NAME=VALUE" in bad.output
    assert not (tmp_path / "x.html").exists()


# --- framing ---------------------------------------------------------------


def test_only_the_embed_page_may_be_framed_by_other_sites(client):
    embed = client.get("/embed?layers=relics&relics.rank=national")
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed.headers
    assert "frame-ancestors" not in embed.headers.get("Content-Security-Policy", "")
    page = embed.get_data(as_text=True)
    assert 'id="vung-config"' in page and "js/embed.js" in page
    assert "site-header" not in page and 'id="panel"' not in page
    assert client.get("/").headers["X-Frame-Options"] == "SAMEORIGIN"
