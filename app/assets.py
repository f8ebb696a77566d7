"""Static files at versioned addresses, which browsers keep for a year.

`url_for("static", ...)` adds `?v=` and the start of the file's content
hash. An answer to a request naming the current version may be kept for a
year without asking again: a changed file gets a new address. Files fetched
without it (modules imported by a relative path, images named in a
stylesheet) or with an old one are revalidated each time, as before. On a
phone this spares a round trip per script and stylesheet on every visit.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask, Response, current_app, request, url_for
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
_versions: dict[str, tuple[int, str]] = {}  # path -> (modification time, version)


def file_version(filename: str) -> str | None:
    """The version of a static file (None if there is no such file), read again only when the file changes."""
    path = safe_join(current_app.static_folder, filename)
    try:
        modified = os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None
    if modified is None:
        return None
    known = _versions.get(path)
    if known is None or known[0] != modified:
        with open(path, "rb") as f:
            known = (modified, hashlib.sha256(f.read()).hexdigest()[:12])
        _versions[path] = known
    return known[1]


def add_version(endpoint: str | None, values: dict) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = file_version(values["filename"])
        if version:
            values["v"] = version


def keep_versioned(response: Response) -> Response:
    if request.endpoint != "static" or response.status_code not in (200, 304) or "Set-Cookie" in response.headers:
        return response  # a shared cache must never hand one visitor's cookie to the next
    wanted = request.args.get("v")
    if wanted and wanted == file_version(request.view_args.get("filename", "")):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    return response


def module_map() -> dict:
    """An import map sending every module under static/js to its versioned address, so that a module
    imported by a relative path is kept a year too (a browser without import maps asks as before)."""
    root = Path(current_app.static_folder)
    imports = {}
    for path in sorted((root / "js").rglob("*.js")):
        name = path.relative_to(root).as_posix()
        imports[url_for("static", filename=name, v=None)] = url_for("static", filename=name)
    return {"imports": imports}


def init_app(app: Flask) -> None:
    app.url_defaults(add_version)
    app.after_request(keep_versioned)
    app.jinja_env.globals["module_map"] = module_map
