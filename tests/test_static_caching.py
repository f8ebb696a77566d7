"""Static files: versioned addresses kept for a year, everything else revalidated."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.writing import add_user, drop_users, session_login

STATIC = Path(__file__).resolve().parent.parent / "static"
YEAR = 365 * 24 * 3600


def static_addresses(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


@pytest.fixture(scope="module")
def editor(app, engine):
    add_user(engine, "s-editor", "editor")
    yield session_login(app, "s-editor")
    drop_users(engine, ["s-editor"])


@pytest.mark.parametrize("page", ["/", "/stats", "/login", "/relics/1"])
def test_pages_name_static_files_by_their_content(client, page):
    response = client.get(page)
    assert response.status_code in (200, 404)  # a detail page of a missing relic still has the site's files
    addresses = static_addresses(response.get_data(as_text=True))
    assert addresses, page
    for address in addresses:
        path, _, version = address.partition("?v=")
        content = (STATIC / path.removeprefix("/static/")).read_bytes()
        assert version == hashlib.sha256(content).hexdigest()[:12], address


def test_a_versioned_file_is_kept_for_a_year_by_any_cache(client):
    [address] = {a for a in static_addresses(client.get("/").get_data(as_text=True)) if "/js/map.js" in a}
    response = client.get(address)
    assert response.status_code == 200
    cache = response.cache_control
    assert (cache.public, cache.max_age, cache.immutable, cache.no_cache) == (True, YEAR, True, None)
    assert "Cookie" not in response.headers.get("Vary", "")


@pytest.mark.parametrize("query", ["", "?v=000000000000", "?v="])
def test_an_unversioned_or_stale_address_is_revalidated(client, query):
    response = client.get(f"/static/js/map.js{query}")
    assert response.status_code == 200
    assert response.cache_control.no_cache and not response.cache_control.max_age
    assert not response.cache_control.immutable


def test_logged_in_users_get_the_same_shared_files(editor):
    """Static files are not private data: no per-user caching rules, no Vary: Cookie."""
    address = static_addresses(editor.client.get("/edit").get_data(as_text=True))[0]
    response = editor.client.get(address)
    assert response.status_code == 200
    assert response.cache_control.max_age == YEAR and not response.cache_control.private
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers  # the refreshed session cookie would be shared too
    # The page itself stays private.
    assert editor.client.get("/edit").cache_control.private


def test_a_file_answered_with_a_cookie_is_not_kept_by_shared_caches(client):
    """?lang= sets the language cookie on any answer: such an answer is not public."""
    [address] = {a for a in static_addresses(client.get("/").get_data(as_text=True)) if "/js/map.js" in a}
    response = client.get(f"{address}&lang=en")
    assert "Set-Cookie" in response.headers
    assert not response.cache_control.public and response.cache_control.max_age != YEAR


@pytest.mark.parametrize("address", ["/static/no-such-file.js?v=abc", "/static/../app/config.py?v=abc",
                                     "/static/%2e%2e/app/config.py?v=abc"])
def test_missing_or_escaping_files_are_404(client, address):
    assert client.get(address).status_code == 404


@pytest.mark.parametrize("page", ["/", "/stats", "/embed", "/relics/1"])
def test_the_import_map_gives_every_module_its_version(client, page):
    """Modules imported by a relative path reach their versioned address through the page's import map."""
    html = client.get(page).get_data(as_text=True)
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert found and html.index('type="importmap"') < html.index('type="module"')
    imports = json.loads(found.group(1))["imports"]
    modules = sorted(p.relative_to(STATIC).as_posix() for p in (STATIC / "js").rglob("*.js"))
    assert sorted(k.removeprefix("/static/") for k in imports) == modules
    for plain, versioned in imports.items():
        content = (STATIC / plain.removeprefix("/static/")).read_bytes()
        assert versioned == f"{plain}?v={hashlib.sha256(content).hexdigest()[:12]}"


def test_pages_have_an_icon_and_favicon_ico_leads_to_it(client):
    html = client.get("/").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', html).group(1)
    assert client.get(icon).status_code == 200
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.headers["Location"] == icon


def test_public_tiles_fetched_by_a_logged_in_user_carry_no_session_cookie(editor):
    """Shared caches keep them (public, max-age): the user's refreshed session must not ride along."""
    response = editor.client.get("/tiles/relics/8/203/113.pbf")
    assert response.status_code == 200 and response.cache_control.public
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    page = editor.client.get("/edit")
    assert "Set-Cookie" in page.headers  # elsewhere the session is refreshed as before
