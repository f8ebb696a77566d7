"""The import page's endpoints: upload, inspect, run; who may, and bad input."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box
from sqlalchemy import text

from importers.encodings import encode_legacy
from tests.conftest import SESSION_CSRF, signed_in
from tests.importing import upload
from tests.writing import INSIDE, OUTSIDE, free_cell, layer_state

NAMES = ["zz-api Ruộng một", "zz-api Ruộng hai"]


def post(client, url, **kw):
    return client.post(url, headers={"X-CSRF-Token": SESSION_CSRF}, **kw)


@pytest.fixture()
def editor(app, make_user):
    return signed_in(app, make_user("import_api_editor", "editor", layers=["farming_zones"]))


@pytest.fixture()
def zones_zip(tmp_path) -> bytes:
    gdf = gpd.GeoDataFrame(
        {"TEN": NAMES, "LOAI_CAY": ["Lúa", "rau màu"]},
        geometry=[box(106.30, 20.20, 106.301, 20.201), box(106.31, 20.21, 106.311, 20.211)], crs=4326,
    )
    gdf.to_file(tmp_path / "ruong.shp", encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            archive.write(tmp_path / f"ruong.{ext}", f"ruong.{ext}")
    return buffer.getvalue()


@pytest.fixture()
def cleanup(engine):
    yield
    with engine.begin() as c:
        for layer in ("farming_zones", "aquaculture_areas"):
            ids = [r[0] for r in c.execute(text(f"SELECT id FROM {layer} WHERE name LIKE 'zz-api%'"))]
            c.execute(text(f"DELETE FROM {layer} WHERE id = ANY(:ids)"), {"ids": ids})
            c.execute(text("DELETE FROM feature_history WHERE layer = :layer "
                           "AND (feature_id = ANY(:ids) OR properties->>'name' LIKE 'zz-api%')"), {"layer": layer, "ids": ids})




def test_upload_inspect_dry_run_then_import(editor, zones_zip, engine, cleanup):
    sent = upload(editor, zones_zip, "ruộng.zip")
    assert sent.status_code == 201 and sent.json["format"] == "ESRI Shapefile"
    upload_id = sent.json["upload"]
    seen = post(editor, f"/import/{upload_id}/inspect", json={"layer": "farming_zones"})
    assert seen.status_code == 200
    # TEN is the name, as a table's "Tên" is; LOAI_CAY holds crops ("Lúa", "Rau màu"): suggested by its words.
    assert seen.json["missing_required"] == [] and seen.json["mapping"] == {"TEN": "name", "LOAI_CAY": "crop"}
    assert len(seen.json["preview"]["features"]) == 2
    mapping = {"TEN": "name", "LOAI_CAY": "crop"}
    dry = post(editor, f"/import/{upload_id}/run", json={"layer": "farming_zones", "mapping": mapping, "dry_run": True})
    assert (dry.status_code, dry.json["would_load"], dry.json["committed"]) == (200, 2, False)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api%'")).scalar_one() == 0
    done = post(editor, f"/import/{upload_id}/run", json={"layer": "farming_zones", "mapping": mapping, "dry_run": False})
    assert (done.status_code, done.json["inserted"], done.json["committed"]) == (200, 2, True)
    with engine.connect() as c:
        rows = c.execute(text("SELECT name, crop, district FROM farming_zones WHERE name LIKE 'zz-api%' ORDER BY name")).all()
    assert [(r.name, r.crop) for r in rows] == sorted(zip(NAMES, ["rice", "vegetables"], strict=True))
    assert all(r.district for r in rows)


@pytest.mark.parametrize("name", ["meta.json", ".upload.json", "upload.json"])
def test_a_file_may_be_called_anything_the_upload_keeps_beside_it(editor, name):
    geojson = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "zz-api tên", "crop": "rice"},
         "geometry": {"type": "Point", "coordinates": [106.3, 20.2]}}]}).encode()
    sent = upload(editor, geojson, name)
    assert sent.status_code == 201, sent.json
    seen = post(editor, f"/import/{sent.json['upload']}/inspect", json={"layer": "farming_zones"})
    assert seen.status_code == 200 and seen.json["count"] == 1 and seen.json["format"] == "GeoJSON"


def test_only_editors_of_the_layer_may_import(app, make_user, zones_zip, editor):
    anonymous = app.test_client()
    assert anonymous.post("/import/upload").status_code == 401
    viewer = signed_in(app, make_user("import_api_viewer", "viewer"))
    assert upload(viewer, zones_zip, "a.zip").status_code == 403
    upload_id = upload(editor, zones_zip, "a.zip").json["upload"]
    assert post(editor, f"/import/{upload_id}/inspect", json={"layer": "relics"}).status_code == 403


def test_uploads_are_private_to_their_owner(app, make_user, zones_zip, editor):
    upload_id = upload(editor, zones_zip, "a.zip").json["upload"]
    other = signed_in(app, make_user("import_api_other", "editor"))
    assert post(other, f"/import/{upload_id}/inspect", json={"layer": "farming_zones"}).status_code == 404
    assert post(editor, "/import/../../etc/inspect", json={"layer": "farming_zones"}).status_code == 404


def test_changes_need_the_csrf_token(editor, zones_zip):
    response = editor.post("/import/upload", data={"file": (io.BytesIO(zones_zip), "a.zip")}, content_type="multipart/form-data")
    assert response.status_code == 403 and response.json["code"] == "CsrfFailed"


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (b"not a zip at all", "ruong.zip", 422, None),
        (b"", "rong.geojson", 422, "EmptyFile"),
        (b"MZ\x90\x00", "virus.exe", 422, "UnsupportedFormat"),
        (b"\x00\x00\x27\x0a" + bytes(96), "ruong.shp", 422, "MissingPart"),
        (b"a,b\n1,2\n", "bang.csv", 422, "NotGeodata"),
    ],
)
def test_bad_files_are_refused_clearly(editor, data, name, status, code):
    response = upload(editor, data, name)
    assert response.status_code == status
    assert response.json["description"]
    if code:
        assert response.json["code"] == code


def test_an_upload_without_a_file_and_bad_options(editor, zones_zip):
    assert post(editor, "/import/upload", data={}, content_type="multipart/form-data").status_code == 400
    upload_id = upload(editor, zones_zip, "a.zip").json["upload"]
    bad = [
        {"layer": 5},
        {"layer": "farming_zones", "mapping": ["TEN"]},
        {"layer": "farming_zones", "encoding": "klingon"},
        {"layer": "farming_zones", "crs": "EPSG:999999"},
        {"layer": "farming_zones", "mapping": {"TEN": "name", "LOAI_CAY": "crop"}, "key": "; DROP TABLE users"},
    ]
    for body in bad:
        response = post(editor, f"/import/{upload_id}/run", json=body)
        assert response.status_code in (400, 403, 404, 422), (body, response.status_code)
        assert "code" in response.json


def test_uploads_beyond_the_limit_get_413(app, make_user, database_url):
    from app import create_app

    small = create_app({"DATABASE_URL": database_url, "MAX_CONTENT_LENGTH": 1024})
    client = signed_in(small, make_user("import_api_small", "editor"))
    response = upload(client, b"x" * 4096, "big.geojson")
    assert response.status_code == 413


def wait_for_job(client, url: str, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(url).json
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("the import job did not finish")


def test_a_background_import_reports_its_progress(editor, zones_zip, engine, cleanup, app, make_user):
    upload_id = upload(editor, zones_zip, "nen.zip").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"TEN": "name", "LOAI_CAY": "crop"}, "dry_run": False, "background": True}
    started = post(editor, f"/import/{upload_id}/run", json=body)
    assert started.status_code == 202
    job = wait_for_job(editor, started.json["status"])
    assert (job["state"], job["phase"], job["rows_done"], job["rows_total"]) == ("done", "done", 2, 2)
    assert job["report"]["committed"] and job["report"]["inserted"] == 2
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api%'")).scalar_one() == 2
    stranger = signed_in(app, make_user("import_api_stranger", "editor"))
    assert stranger.get(started.json["status"]).status_code == 404


def test_a_failing_background_import_says_why_and_writes_nothing(editor, zones_zip, engine):
    upload_id = upload(editor, zones_zip, "hong.zip").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"TEN": "name"}, "dry_run": False, "background": True}
    job = wait_for_job(editor, post(editor, f"/import/{upload_id}/run", json=body).json["status"])
    assert job["state"] == "failed" and "crop" in job["error"]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api%'")).scalar_one() == 0


def test_a_job_whose_worker_vanished_is_reported_failed(editor, engine):
    from layers import REGISTRY
    from layers.imports import create_job

    with engine.begin() as c:
        user_id = c.execute(text("SELECT id FROM users WHERE username = 'import_api_editor'")).scalar_one()
        create_job(c, "stale-job-0123456789", user_id, REGISTRY["farming_zones"])
        c.execute(text("UPDATE import_jobs SET updated_at = now() - interval '3 minutes' WHERE id = 'stale-job-0123456789'"))
    job = editor.get("/import/jobs/stale-job-0123456789?lang=en").json
    assert job["state"] == "failed" and "interrupted" in job["error"]
    assert "gián đoạn" in editor.get("/import/jobs/stale-job-0123456789?lang=vi").json["error"]


def test_a_running_job_beats_so_a_long_silent_phase_is_not_taken_for_a_lost_worker(editor, engine, app, monkeypatch):
    import threading

    from app import imports as import_pages
    from importers.run import ImportFailed
    from layers import REGISTRY
    from layers.imports import create_job

    with engine.begin() as c:
        user_id = c.execute(text("SELECT id FROM users WHERE username = 'import_api_editor'")).scalar_one()
        create_job(c, "beating-job-0123456789", user_id, REGISTRY["farming_zones"])
        c.execute(text("UPDATE import_jobs SET updated_at = now() - interval '1 hour' WHERE id = 'beating-job-0123456789'"))
    release = threading.Event()
    monkeypatch.setattr(import_pages, "HEARTBEAT_SECONDS", 0.05)
    def silent_import(progress, on_phase):  # a phase that says nothing until released
        release.wait(30)
        raise ImportFailed("stopped by the test")

    worker = threading.Thread(target=import_pages.run_job, args=(app, "beating-job-0123456789", silent_import))
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and job_age(engine, "beating-job-0123456789") > 60:
            time.sleep(0.05)
        assert job_age(engine, "beating-job-0123456789") < 60  # touched while the phase said nothing
    finally:
        release.set()
        worker.join(10)


def job_age(engine, job_id: str) -> float:
    with engine.connect() as c:
        return c.execute(
            text("SELECT extract(epoch FROM now() - updated_at) FROM import_jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one()


def test_a_refused_file_is_explained_wholly_in_the_page_language(editor):
    from app.messages import FILE_ERRORS
    from importers.sources import ImportFileError

    # Every code the upload checks can give has its sentence, said when a detailed one is not listed.
    codes = set(re.findall(r"\b[A-Z][a-z]+[A-Z]\w+\b", ImportFileError.__doc__))
    assert codes and codes <= set(FILE_ERRORS)
    vietnamese = upload(editor, b"", "rong.geojson").json["description"]
    english = editor.post(
        "/import/upload?lang=en", data={"file": (io.BytesIO(b""), "rong.geojson")},
        content_type="multipart/form-data", headers={"X-CSRF-Token": SESSION_CSRF},
    ).json["description"]
    assert vietnamese == "Tệp rong.geojson trống."
    assert english == "rong.geojson is empty."


# --- text encodings and mixed columns: every answer a clear one ------------------------------------

CP1258_CSV = (
    "name,crop,wkt\n"
    'zz-api Ruộng Ấp,Lúa,"POLYGON((106.30 20.20,106.301 20.20,106.301 20.201,106.30 20.201,106.30 20.20))"\n'
    'zz-api Ruộng Đông,rau màu,"POLYGON((106.31 20.21,106.311 20.21,106.311 20.211,106.31 20.211,106.31 20.21))"\n'
)


def test_a_csv_in_windows_1258_is_refused_clearly_then_read_with_its_encoding(editor, engine, cleanup):
    """Excel on a Vietnamese Windows saves CSV in Windows-1258: read as UTF-8 it cannot be, and says so;
    with its encoding named, it imports with its Vietnamese names intact."""
    data = encode_legacy(CP1258_CSV, "cp1258")  # tones as combining marks, as Windows-1258 writes them
    upload_id = upload(editor, data, "ruong.csv").json["upload"]
    for step in ("inspect", "run"):
        refused = post(editor, f"/import/{upload_id}/{step}?lang=en", json={"layer": "farming_zones"})
        assert refused.status_code == 422, (step, refused.get_data(as_text=True))
        assert "not UTF-8" in refused.json["description"] and "choose its encoding" in refused.json["description"]
    vi = post(editor, f"/import/{upload_id}/inspect?lang=vi", json={"layer": "farming_zones"})
    assert "không ở dạng UTF-8" in vi.json["description"]
    named = {"layer": "farming_zones", "encoding": "cp1258"}
    seen = post(editor, f"/import/{upload_id}/inspect", json=named)
    assert seen.status_code == 200, seen.get_data(as_text=True)
    assert [f["properties"]["name"] for f in seen.json["preview"]["features"]] == ["zz-api Ruộng Ấp", "zz-api Ruộng Đông"]
    done = post(editor, f"/import/{upload_id}/run", json={**named, "dry_run": False})
    assert (done.status_code, done.json["inserted"]) == (200, 2), done.get_data(as_text=True)
    with engine.connect() as c:
        names = c.execute(text("SELECT name FROM farming_zones WHERE name LIKE 'zz-api%'")).scalars().all()
    assert sorted(names) == sorted(["zz-api Ruộng Ấp", "zz-api Ruộng Đông"])


@pytest.mark.parametrize("encoding", ["tcvn3", "vni", "cp1258"])
def test_an_encoding_for_a_format_that_is_always_utf8_is_refused_clearly(editor, tmp_path, encoding):
    gdf = gpd.GeoDataFrame({"name": ["zz-api Vườn"], "crop": ["rice"]}, geometry=[box(106.30, 20.20, 106.301, 20.201)], crs=4326)
    gdf.to_file(tmp_path / "vuon.gpkg")
    upload_id = upload(editor, (tmp_path / "vuon.gpkg").read_bytes(), "vuon.gpkg").json["upload"]
    for step in ("inspect", "run"):
        refused = post(editor, f"/import/{upload_id}/{step}?lang=en", json={"layer": "farming_zones", "encoding": encoding})
        assert refused.status_code == 422, (step, refused.get_data(as_text=True))
        assert "only for shapefiles and CSV" in refused.json["description"]
    vi = post(editor, f"/import/{upload_id}/inspect?lang=vi", json={"layer": "farming_zones", "encoding": encoding})
    assert "chỉ chọn được bảng mã" in vi.json["description"]


def test_a_spreadsheet_column_mixing_numbers_and_text_is_read(app, make_user, tmp_path):
    """Households given as 120 in one row and as '85' or 'khoảng 40' in others: the numbers go in, the text is refused."""
    import pandas as pd

    villages = signed_in(app, make_user("import_api_villages", "editor", layers=["craft_villages"]))
    frame = pd.DataFrame({
        "name": ["zz-api Làng một", "zz-api Làng hai", "zz-api Làng ba"],
        "craft": ["woodwork"] * 3,
        "households": [120, "85", "khoảng 40"],
        "lon": [106.17, 106.18, 106.19], "lat": [20.42, 20.42, 20.42],
    })
    frame.to_excel(tmp_path / "lang.xlsx", index=False)
    upload_id = upload(villages, (tmp_path / "lang.xlsx").read_bytes(), "lang.xlsx").json["upload"]
    seen = post(villages, f"/import/{upload_id}/inspect", json={"layer": "craft_villages"})
    assert seen.status_code == 200, seen.get_data(as_text=True)
    assert [f["properties"]["households"] for f in seen.json["preview"]["features"]] == ["120", "85", "khoảng 40"]
    dry = post(villages, f"/import/{upload_id}/run", json={"layer": "craft_villages", "dry_run": True})
    assert dry.status_code == 200, dry.get_data(as_text=True)
    assert dry.json["would_load"] == 2
    [rejected] = dry.json["rejected"]
    assert rejected["row"] == 3 and "households" in rejected["reason"]


def many_bad_rows(count: int) -> bytes:
    """A GeoJSON of `count` small squares, every one with a crop the layer does not know, and one it knows (cay)."""
    features = [{"type": "Feature", "properties": {"name": f"zz-api {i}", "crop": "ngô", "cay": "rice"},
                 "geometry": box(106.3 + i * 1e-4, 20.2, 106.30005 + i * 1e-4, 20.20005).__geo_interface__}
                for i in range(count)]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_every_rejected_row_can_be_downloaded_in_the_page_language(app, make_user, editor, engine):
    """The report sends the first 1,000 reasons; the CSV holds them all, for the uploader only."""
    upload_id = upload(editor, many_bad_rows(1200), "ngo.geojson").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop", "cay": ""}, "dry_run": True}
    dry = post(editor, f"/import/{upload_id}/run?lang=vi", json=body)
    assert (len(dry.json["rejected"]), dry.json["rejected_total"]) == (1000, 1200)

    answer = editor.get(f"/import/{upload_id}/rejected.csv?lang=vi")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    lines = answer.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "dòng,lý do,kinh độ,vĩ độ"
    assert len(lines) == 1201 and lines[1200].startswith("1200,")
    assert lines[1] == f"1,{dry.json['rejected'][0]['reason']},,"
    english = editor.get(f"/import/{upload_id}/rejected.csv?lang=en").get_data().decode("utf-8-sig").splitlines()
    assert english[0] == "row,reason,longitude,latitude" and english[1] == "1,Crop (crop): unknown value 'ngô',,"

    stranger = signed_in(app, make_user("import_api_curious", "editor", layers=["farming_zones"]))
    assert stranger.get(f"/import/{upload_id}/rejected.csv").status_code == 404
    assert app.test_client().get(f"/import/{upload_id}/rejected.csv").status_code == 401

    # A later run that rejects nothing leaves nothing to download.
    body["mapping"] = {"name": "name", "cay": "crop", "crop": ""}
    assert post(editor, f"/import/{upload_id}/run", json=body).json["rejected_total"] == 0
    assert editor.get(f"/import/{upload_id}/rejected.csv").status_code == 404
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api%'")).scalar_one() == 0


def test_words_no_label_matches_are_shown_then_read_as_the_values_chosen(editor, engine, cleanup):
    gdf = gpd.GeoDataFrame(
        {"TEN": ["zz-api nếp 1", "zz-api nếp 2", "zz-api tẻ"], "LOAI_CAY": ["Lúa nếp", "Lúa nếp", "Lúa"]},
        geometry=[box(106.30 + i * 0.002, 20.20, 106.301 + i * 0.002, 20.201) for i in range(3)], crs=4326,
    )
    upload_id = upload(editor, gdf.to_json().encode(), "nep.geojson").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"TEN": "name", "LOAI_CAY": "crop"}}
    seen = post(editor, f"/import/{upload_id}/inspect", json=body)
    assert seen.json["unmatched"] == {"crop": [{"value": "Lúa nếp", "key": "lua nep", "rows": 2}]}
    dry = post(editor, f"/import/{upload_id}/run", json={**body, "dry_run": True})
    assert dry.json["would_load"] == 1 and dry.json["unmatched"] == {"crop": [{"value": "Lúa nếp", "key": "lua nep", "rows": 2}]}

    chosen = {**body, "values": {"crop": {"Lúa nếp": "rice"}}}
    assert post(editor, f"/import/{upload_id}/inspect", json=chosen).json["unmatched"] == {}
    done = post(editor, f"/import/{upload_id}/run", json={**chosen, "dry_run": False})
    assert (done.json["inserted"], done.json["unmatched"]) == (3, {})
    with engine.connect() as c:
        crops = c.execute(text("SELECT crop FROM farming_zones WHERE name LIKE 'zz-api%' ORDER BY name")).scalars().all()
    assert crops == ["rice", "rice", "rice"]


@pytest.mark.parametrize(("values", "says"), [
    ({"crop": {"Lúa nếp": "maize"}}, "cách hiểu từ cho 'Lúa nếp' giá trị 'maize', không thuộc danh sách của trường crop"),
    ({"crop": {"Lúa nếp": "rice", "lua nep": "other"}}, "cách hiểu từ cho trường crop hai giá trị khác nhau"),
    ({"owner": {"x": "y"}}, "cách hiểu từ nêu trường 'owner'"),
    ({"crop": {"Lúa nếp": 1}}, None),
    ({"crop": "rice"}, None),
    (["crop"], None),
])
def test_values_that_cannot_be_read_are_refused_and_write_nothing(editor, zones_zip, engine, values, says):
    upload_id = upload(editor, zones_zip, "a.zip").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"TEN": "name", "LOAI_CAY": "crop"}, "values": values, "dry_run": False}
    answer = post(editor, f"/import/{upload_id}/run?lang=vi", json=body)
    assert answer.status_code == 422 and answer.json["code"], answer.json
    assert says is None or answer.json["description"].startswith(says), answer.json  # in the page's language
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api%'")).scalar_one() == 0


@pytest.mark.parametrize(("constants", "says"), [
    ({"crop": "rice"}, "«Một giá trị cho mọi dòng» gán cho crop, trường mà một cột của tệp cũng điền"),
    ({"status": "ngủ đông"}, "giá trị chung 'ngủ đông' cho trường status không dùng được: giá trị không hợp lệ 'ngủ đông'"),
    ({"status": 1}, None),
    (["status"], None),
])
def test_values_for_every_row_that_cannot_be_are_refused_and_write_nothing(editor, zones_zip, engine, constants, says):
    upload_id = upload(editor, zones_zip, "a.zip").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"TEN": "name", "LOAI_CAY": "crop"}, "set": constants, "dry_run": False}
    answer = post(editor, f"/import/{upload_id}/run?lang=vi", json=body)
    assert answer.status_code in (400, 422) and answer.json["code"], answer.json
    assert says is None or says in answer.json["description"], answer.json
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api%'")).scalar_one() == 0


def district_zones(points: list[tuple[float, float]], names: list[str]) -> bytes:
    return gpd.GeoDataFrame(
        {"name": names, "crop": ["Lúa"] * len(names)},
        geometry=[box(x, y, x + 0.001, y + 0.001) for x, y in points], crs=4326,
    ).to_json().encode()


def test_an_editor_of_some_districts_imports_only_into_them(app, make_user, engine, cleanup):
    """An editor limited to Nam Trực (362) may not place features in Giao Thủy (365) by import, nor change one there by key."""
    local = signed_in(app, make_user("import_api_local", "editor", layers=["farming_zones"], districts=[INSIDE]))
    spots = {code: free_cell(engine, code) for code in (INSIDE, OUTSIDE)}
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    upload_id = upload(local, district_zones([spots[INSIDE], spots[OUTSIDE]], ["zz-api ở đây", "zz-api nơi khác"]),
                       "hai_huyen.geojson").json["upload"]
    refused = post(local, f"/import/{upload_id}/run?lang=en", json=body)
    assert (refused.json["committed"], refused.json["rejected_total"]) == (False, 1)
    [outside] = refused.json["rejected"]
    # Where it lies, and which district that is: the editor passes the row on to its district's colleague.
    assert outside["row"] == 2 and outside["reason"] == "District (district): outside the districts you may edit (Giao Thủy)"
    assert outside["location"] == pytest.approx([spots[OUTSIDE][0] + 0.0005, spots[OUTSIDE][1] + 0.0005], abs=1e-6)
    in_vietnamese = post(local, f"/import/{upload_id}/run?lang=vi", json={**body, "dry_run": True}).json["rejected"]
    assert in_vietnamese[0]["reason"] == "Huyện/thành phố (district): nằm ngoài các huyện bạn được sửa (Giao Thủy)"
    loaded = post(local, f"/import/{upload_id}/run", json={**body, "skip_invalid": True})
    assert (loaded.json["inserted"], loaded.json["rejected_total"]) == (1, 1)

    # A feature of the other district, which an editor of every district imported, is out of reach by key too.
    everywhere = signed_in(app, make_user("import_api_everywhere", "editor", layers=["farming_zones"]))
    theirs = upload(everywhere, district_zones([spots[OUTSIDE]], ["zz-api nơi khác"]), "xa.geojson").json["upload"]
    assert post(everywhere, f"/import/{theirs}/run", json=body).json["inserted"] == 1
    moved = upload(local, district_zones([spots[INSIDE]], ["zz-api nơi khác"]), "doi.geojson").json["upload"]
    answer = post(local, f"/import/{moved}/run?lang=en", json={**body, "key": "name"})
    assert answer.json["committed"] is False and "outside the districts you may edit" in answer.json["rejected"][0]["reason"]
    with engine.connect() as c:
        rows = c.execute(text("SELECT name, district_code FROM farming_zones WHERE name LIKE 'zz-api%' ORDER BY name")).all()
    assert [tuple(r) for r in rows] == [("zz-api nơi khác", OUTSIDE), ("zz-api ở đây", INSIDE)]


def test_an_import_can_be_undone_without_losing_later_edits(app, make_user, editor, engine, cleanup):
    """Undo deletes what the import added and brings back what it updated, but leaves a feature edited since."""
    first = upload(editor, district_zones([(106.30, 20.20), (106.31, 20.20)], ["zz-api cũ", "zz-api giữ"]), "cu.geojson")
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    assert post(editor, f"/import/{first.json['upload']}/run", json=body).json["inserted"] == 2

    gdf = gpd.GeoDataFrame({"name": ["zz-api cũ", "zz-api mới", "zz-api sửa sau"], "crop": ["Muối", "Lúa", "Lúa"]},
                           geometry=[box(106.30 + i * 0.01, 20.21, 106.301 + i * 0.01, 20.211) for i in range(3)], crs=4326)
    second = upload(editor, gdf.to_json().encode(), "moi.geojson").json["upload"]
    done = post(editor, f"/import/{second}/run", json={**body, "key": "name"})
    assert (done.json["updated"], done.json["inserted"]) == (1, 2)
    second = done.json["import"]
    assert post(editor, f"/import/log/{second}/undo", data="not json", content_type="application/json").status_code == 400
    with engine.begin() as c:  # a colleague edits one of the new zones afterwards
        c.execute(text("UPDATE farming_zones SET season = 'Vụ mùa' WHERE name = 'zz-api sửa sau'"))

    stranger = signed_in(app, make_user("import_api_undoer", "editor", layers=["farming_zones"]))
    assert post(stranger, f"/import/log/{second}/undo").status_code == 404
    undone = post(editor, f"/import/log/{second}/undo")
    assert undone.status_code == 200 and undone.json == {"removed": 1, "restored": 1, "changed_since": 1, "unrecorded": 0}
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT name, crop, ST_YMin(geom) < 20.205 AS first_shape, version FROM farming_zones "
            "WHERE name LIKE 'zz-api%' ORDER BY name")).all()
        history = c.execute(text(
            "SELECT h.operation, h.username FROM feature_history h JOIN farming_zones t ON t.id = h.feature_id "
            "WHERE h.layer = 'farming_zones' AND t.name = 'zz-api cũ' ORDER BY h.version DESC LIMIT 1")).one()
    assert [tuple(r) for r in rows] == [("zz-api cũ", "rice", True, 3), ("zz-api giữ", "rice", True, 1),
                                        ("zz-api sửa sau", "rice", False, 2)]
    assert tuple(history) == ("restore", "import_api_editor")
    again = post(editor, f"/import/log/{second}/undo?lang=vi")
    assert again.status_code == 409 and again.json["description"] == (
        "Không thể hoàn tác lần nhập: lần nhập này đã được hoàn tác trước đó.")
    only_tried = upload(editor, gdf.to_json().encode(), "thu.geojson").json["upload"]
    tried = post(editor, f"/import/{only_tried}/run", json={**body, "dry_run": True}).json
    assert (tried["committed"], tried["import"]) == (False, None)  # a dry run is not logged: nothing to undo
    assert post(editor, "/import/log/999999999/undo").status_code == 404


def test_an_undo_that_would_break_a_rule_changes_nothing(app, make_user, engine, cleanup):
    """Undo is refused whole where a restored shape would overlap a feature drawn since (aquaculture refuses
    overlaps), or where the editor may no longer edit a feature's district."""
    farmer = signed_in(app, make_user("import_api_fish", "editor", layers=["aquaculture_areas"]))
    body = {"layer": "aquaculture_areas", "mapping": {"name": "name", "species": "species", "water_type": "water_type"}, "dry_run": False}

    def areas(names, boxes) -> bytes:
        return gpd.GeoDataFrame({"name": names, "species": ["Tôm"] * len(names), "water_type": ["brackish"] * len(names)},
                                geometry=[box(*b) for b in boxes], crs=4326).to_json().encode()

    def run(data: bytes, **extra):
        upload_id = upload(farmer, data, "ao.geojson").json["upload"]
        answer = post(farmer, f"/import/{upload_id}/run?lang=en", json={**body, **extra})
        assert answer.json.get("committed"), answer.json
        return answer.json["import"]

    here, there = (106.40, 20.22, 106.401, 20.221), (106.41, 20.22, 106.411, 20.221)
    run(areas(["zz-api ao A"], [here]))
    moved = run(areas(["zz-api ao A"], [there]), key="name")  # A moves away...
    run(areas(["zz-api ao B"], [here]))  # ...and B is dug where A was
    before = layer_state(engine, "aquaculture_areas")
    refused = post(farmer, f"/import/log/{moved}/undo?lang=en")
    assert refused.status_code == 409 and "restoring would make features overlap" in refused.json["description"]
    assert layer_state(engine, "aquaculture_areas") == before

    # Rights that shrank since the import: the features of another district are out of reach.
    with engine.connect() as c:
        district = c.execute(text("SELECT district_code FROM aquaculture_areas WHERE name = 'zz-api ao B'")).scalar_one()
    other = OUTSIDE if district == INSIDE else INSIDE
    last = run(areas(["zz-api ao C"], [(106.42, 20.22, 106.421, 20.221)]))
    with engine.begin() as c:
        c.execute(text("UPDATE users SET districts = ARRAY[:d] WHERE username = 'import_api_fish'"), {"d": other})
    before = layer_state(engine, "aquaculture_areas")
    refused = post(farmer, f"/import/log/{last}/undo?lang=vi")
    assert refused.status_code == 409 and "nằm ngoài các huyện bạn được sửa" in refused.json["description"]
    assert layer_state(engine, "aquaculture_areas") == before


def test_an_undo_runs_as_a_job_when_asked(editor, engine, cleanup):
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    first = upload(editor, district_zones([(106.30, 20.20), (106.31, 20.20)], ["zz-api việc 1", "zz-api việc 2"]), "viec.geojson")
    done = post(editor, f"/import/{first.json['upload']}/run", json=body).json
    started = post(editor, f"/import/log/{done['import']}/undo", json={"background": True})
    assert started.status_code == 202
    job = wait_for_job(editor, started.json["status"])
    assert (job["kind"], job["state"], job["report"]) == ("undo", "done", {"removed": 2, "restored": 0, "changed_since": 0,
                                                                            "unrecorded": 0})
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api việc%'")).scalar_one() == 0
    again = post(editor, f"/import/log/{done['import']}/undo?lang=vi", json={"background": True})
    assert again.status_code == 409 and "đã được hoàn tác" in again.json["description"]


def test_an_undo_job_refused_says_why_in_the_reader_s_language(app, make_user, engine, cleanup):
    local = signed_in(app, make_user("import_api_undo_job", "editor", layers=["farming_zones"]))
    spot = free_cell(engine, INSIDE)
    upload_id = upload(local, district_zones([spot], ["zz-api việc xa"]), "xa.geojson").json["upload"]
    done = post(local, f"/import/{upload_id}/run", json={"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"},
                                                          "dry_run": False}).json
    with engine.begin() as c:  # the editor's rights shrink to the other district afterwards
        c.execute(text("UPDATE users SET districts = ARRAY[:d] WHERE username = 'import_api_undo_job'"), {"d": OUTSIDE})
    job = wait_for_job(local, post(local, f"/import/log/{done['import']}/undo", json={"background": True}).json["status"])
    assert job["state"] == "failed"
    assert local.get(job_url := f"/import/jobs/{job['id']}?lang=vi").json["error"] == (
        "Không thể hoàn tác lần nhập: 1 đối tượng của nó nằm ngoài các huyện bạn được sửa.")
    assert "outside the districts you may edit" in local.get(job_url.replace("lang=vi", "lang=en")).json["error"]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name = 'zz-api việc xa'")).scalar_one() == 1
        assert c.execute(text("SELECT undone_at FROM imports WHERE id = :id"), {"id": done["import"]}).scalar_one() is None


def test_a_row_outside_the_districts_claims_no_key_from_a_row_inside(app, make_user, engine, cleanup):
    local = signed_in(app, make_user("import_api_local2", "editor", layers=["farming_zones"], districts=[INSIDE]))
    spots = {code: free_cell(engine, code) for code in (INSIDE, OUTSIDE)}
    data = district_zones([spots[OUTSIDE], spots[INSIDE]], ["zz-api cùng tên", "zz-api cùng tên"])
    upload_id = upload(local, data, "trung.geojson").json["upload"]
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False,
            "key": "name", "skip_invalid": True}
    answer = post(local, f"/import/{upload_id}/run", json=body)
    assert (answer.json["inserted"], [r["row"] for r in answer.json["rejected"]]) == (1, [1])



def test_an_update_with_no_earlier_version_in_the_history_is_left_and_said_so(editor, engine, cleanup):
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    first = upload(editor, district_zones([(106.30, 20.20)], ["zz-api không sử"]), "a.geojson").json["upload"]
    assert post(editor, f"/import/{first}/run", json=body).json["inserted"] == 1
    with engine.begin() as c:  # as for data older than the history
        c.execute(text("DELETE FROM feature_history WHERE layer = 'farming_zones' AND properties->>'name' = 'zz-api không sử'"))
    second = upload(editor, district_zones([(106.31, 20.20)], ["zz-api không sử"]), "b.geojson").json["upload"]
    done = post(editor, f"/import/{second}/run", json={**body, "key": "name"}).json
    assert done["updated"] == 1
    undone = post(editor, f"/import/log/{done['import']}/undo")
    assert undone.json == {"removed": 0, "restored": 0, "changed_since": 0, "unrecorded": 1}
    with engine.connect() as c:
        assert c.execute(text("SELECT ST_XMin(geom) > 106.305 FROM farming_zones WHERE name = 'zz-api không sử'")).scalar_one()


def test_the_page_lists_one_s_own_imports_for_undo(app, make_user, editor, engine, cleanup):
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    upload_id = upload(editor, district_zones([(106.30, 20.20)], ["zz-api gần đây"]), "gần đây.geojson").json["upload"]
    tried = upload(editor, district_zones([(106.31, 20.20)], ["zz-api thử"]), "thu.geojson").json["upload"]
    done = post(editor, f"/import/{upload_id}/run", json=body).json
    assert done["inserted"] == 1
    assert post(editor, f"/import/{tried}/run", json={**body, "dry_run": True}).json["committed"] is False

    [latest, *_] = editor.get("/import/log").json
    assert {k: latest[k] for k in ("id", "file_name", "layer", "username", "rows_read", "inserted", "updated", "rejected",
                                   "undone_at")} == {
        "id": done["import"], "file_name": "gần đây.geojson", "layer": "farming_zones", "username": "import_api_editor",
        "rows_read": 1, "inserted": 1, "updated": 0, "rejected": 0, "undone_at": None}
    with engine.connect() as c:  # the log's time is that of the import's history rows
        assert c.execute(text("SELECT count(*) FROM feature_history WHERE layer = 'farming_zones' AND at = :at"),
                         {"at": latest["at"]}).scalar_one() == 1
    other = signed_in(app, make_user("import_api_nosy", "editor", layers=["farming_zones"]))
    assert all(r["id"] != done["import"] for r in other.get("/import/log").json)
    assert post(other, f"/import/log/{done['import']}/undo").status_code == 404
    assert app.test_client().get("/import/log").status_code == 401

    assert post(editor, f"/import/log/{done['import']}/undo").status_code == 200
    [again] = [r for r in editor.get("/import/log").json if r["id"] == done["import"]]
    assert again["undone_at"] and again["undone_by"] == "import_api_editor"
    assert again["undo"] == {"removed": 1, "restored": 0, "changed_since": 0, "unrecorded": 0}


def test_the_log_keeps_a_file_name_without_control_characters(editor, engine, cleanup):
    """A NUL cannot be stored, an escape would reach the terminal of whoever lists the log, a right-to-left
    mark would show "c\u202enosjoeg.exe" as "cexe.geojson": all go."""
    sent = upload(editor, district_zones([(106.30, 20.20)], ["zz-api tên lạ"]), "a\x00b\x1b[31mc\u202e\u2066.geojson")
    assert sent.status_code == 201 and sent.json["filename"] == "ab[31mc.geojson"
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    done = post(editor, f"/import/{sent.json['upload']}/run", json=body).json
    assert done["committed"], done
    with engine.connect() as c:
        assert c.execute(text("SELECT file_name FROM imports WHERE id = :id"), {"id": done["import"]}).scalar_one() == "ab[31mc.geojson"


def test_the_log_of_a_user_ignores_the_case_of_the_name_and_layers_out_of_reach(app, make_user, engine, cleanup, tmp_path):
    """An import made on the command line as `--user IMPORT_API_CASE` is the page user import_api_case's;
    imports into a layer the user may no longer edit are neither listed nor undone."""
    from layers import REGISTRY
    from layers.imports import record_import

    user = make_user("import_api_case", "editor", layers=["farming_zones", "relics"])
    client = signed_in(app, user)
    with engine.begin() as c:
        zones_id, _ = record_import(c, REGISTRY["farming_zones"], "IMPORT_API_CASE", "lon.gpkg",
                                    {"rows_read": 0, "inserted": 0, "updated": 0, "rejected": 0})
        relics_id, _ = record_import(c, REGISTRY["relics"], "import_api_case", "di_tich.csv",
                                     {"rows_read": 0, "inserted": 0, "updated": 0, "rejected": 0})
    assert {r["id"] for r in client.get("/import/log").json} == {zones_id, relics_id}
    assert post(client, f"/import/log/{zones_id}/undo").json == {"removed": 0, "restored": 0, "changed_since": 0,
                                                                "unrecorded": 0}
    with engine.begin() as c:
        c.execute(text("UPDATE users SET layers = ARRAY['farming_zones'] WHERE username = 'import_api_case'"))
    assert [r["id"] for r in client.get("/import/log").json] == [zones_id]
    refused = post(client, f"/import/log/{relics_id}/undo?lang=vi")
    assert refused.status_code == 403
    with engine.connect() as c:
        assert c.execute(text("SELECT undone_at FROM imports WHERE id = :id"), {"id": relics_id}).scalar_one() is None
        c.execute(text("DELETE FROM imports WHERE id IN (:a, :b)"), {"a": zones_id, "b": relics_id})
        c.commit()
    missing = post(client, f"/import/log/{relics_id}/undo?lang=vi")
    assert missing.status_code == 404 and missing.json["description"] == "Không có lần nhập này trong các lần nhập của bạn."


def test_an_undo_job_lost_with_its_worker_says_so_as_an_undo(editor, engine):
    from layers import REGISTRY
    from layers.imports import create_job

    with engine.begin() as c:
        user_id = c.execute(text("SELECT id FROM users WHERE username = 'import_api_editor'")).scalar_one()
        create_job(c, "stale-undo-0123456789", user_id, REGISTRY["farming_zones"], "undo")
        c.execute(text("UPDATE import_jobs SET updated_at = now() - interval '3 minutes' WHERE id = 'stale-undo-0123456789'"))
    job = editor.get("/import/jobs/stale-undo-0123456789?lang=en").json
    assert (job["kind"], job["state"]) == ("undo", "failed") and "The undo was interrupted" in job["error"]
    assert "Việc hoàn tác bị gián đoạn" in editor.get("/import/jobs/stale-undo-0123456789?lang=vi").json["error"]


def test_imports_undone_newest_first_leave_nothing_behind(editor, engine, cleanup):
    """Undoing a re-import brings its features back as the first import left them; undoing that one then
    deletes them, as nothing else changed them meanwhile."""
    body = {"layer": "farming_zones", "mapping": {"name": "name", "crop": "crop"}, "dry_run": False}
    names = ["zz-api chuỗi 1", "zz-api chuỗi 2"]
    first = upload(editor, district_zones([(106.30, 20.20), (106.31, 20.20)], names), "mot.geojson").json["upload"]
    one = post(editor, f"/import/{first}/run", json=body).json["import"]
    gdf = gpd.GeoDataFrame({"name": names, "crop": ["Muối", "Muối"]},
                           geometry=[box(106.30 + i * 0.01, 20.21, 106.301 + i * 0.01, 20.211) for i in range(2)], crs=4326)
    second = upload(editor, gdf.to_json().encode(), "hai.geojson").json["upload"]
    two = post(editor, f"/import/{second}/run", json={**body, "key": "name"}).json
    assert two["updated"] == 2
    assert post(editor, f"/import/log/{two['import']}/undo").json["restored"] == 2
    assert post(editor, f"/import/log/{one}/undo").json == {"removed": 2, "restored": 0, "changed_since": 0, "unrecorded": 0}
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM farming_zones WHERE name LIKE 'zz-api chuỗi%'")).scalar_one() == 0


def test_an_export_sent_back_through_the_page_is_checked_by_id_and_version(app, make_user, engine, cleanup, tmp_path):
    """The page sends the columns it leaves out mapped to "": the export's version column is still read, a row
    of a feature edited since is refused, and an editor of one district sending back a whole export writes
    only the rows that change something, all inside."""
    local = signed_in(app, make_user("import_api_roundtrip", "editor", layers=["farming_zones"], districts=[INSIDE]))
    inside, outside = free_cell(engine, INSIDE), free_cell(engine, OUTSIDE)
    with engine.begin() as c:
        ids = [c.execute(text(
            "INSERT INTO farming_zones (name, crop, geom) VALUES (:n, 'rice', "
            "ST_Multi(ST_MakeEnvelope(:x, :y, :x + 0.001, :y + 0.001, 4326))) RETURNING id"),
            {"n": name, "x": x, "y": y}).scalar_one() for name, (x, y) in (("zz-api trong", inside), ("zz-api ngoài", outside))]
    path = tmp_path / "xuat.gpkg"
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["export", "farming_zones", str(path), "--filter", "q=zz-api"]).exit_code == 0
    frame = pyogrio.read_dataframe(path)
    frame.loc[frame["id"] == ids[0], "season"] = "Vụ mùa"
    edited = tmp_path / "sua.gpkg"
    pyogrio.write_dataframe(frame, edited, layer="farming_zones")
    upload_id = upload(local, edited.read_bytes(), "sua.gpkg").json["upload"]
    mapping = {c: (c if c in ("name", "crop", "season") else "") for c in frame.columns if c != "geometry"}
    body = {"layer": "farming_zones", "mapping": mapping, "key": "id", "dry_run": False}
    done = post(local, f"/import/{upload_id}/run", json=body).json
    assert (done.get("committed"), done.get("updated"), done.get("unchanged"), done.get("rejected")) == (True, 1, 1, []), done

    with engine.begin() as c:  # a colleague's edit after a second export
        c.execute(text("UPDATE farming_zones SET season = 'Vụ đông' WHERE id = :id"), {"id": ids[0]})
    frame.loc[frame["id"] == ids[0], "season"] = "Vụ xuân"
    edited = tmp_path / "sua_lan_hai.gpkg"
    pyogrio.write_dataframe(frame, edited, layer="farming_zones")
    again = upload(local, edited.read_bytes(), "sua_lan_hai.gpkg").json["upload"]
    refused = post(local, f"/import/{again}/run?lang=vi", json=body).json
    assert refused["committed"] is False
    assert [r["reason"] for r in refused["rejected"]] == [
        f"id {ids[0]}: đối tượng đã được sửa sau khi tệp được tạo (phiên bản 1 trong tệp, nay là 3)"]
