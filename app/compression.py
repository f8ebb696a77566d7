"""Answers gzip-compressed for clients that accept it.

A phone on a slow network takes the map's data in about a fifth of the
bytes (the district and commune outlines: 314 KB, 67 KB compressed; Leaflet:
148 KB, 43 KB). Behind a proxy that compresses already, set
VUNG_COMPRESS=0. Downloads (exports) go out as they are, streamed.

ETags of data stay as they are: a feature's ETag names its version, which a
write sends back in If-Match; a changed one would make every write a 412.
A static file's ETag, which names its bytes, becomes weak once compressed.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, current_app, g, request

from app.assets import file_version

COMPRESSIBLE = {
    "application/json", "application/geo+json", "application/schema+json", "application/vnd.oai.openapi+json",
    "application/vnd.mapbox-vector-tile", "application/javascript", "text/javascript", "text/css", "text/html",
    "text/plain", "text/csv", "image/svg+xml",
}
SMALLEST = 1024  # bytes; below this the header costs more than it saves
LEVEL = 5  # zlib's speed and ratio: level 9 saves a few per cent more for twice the time


def compressible(response: Response) -> bool:
    # HEAD is answered as GET would be (the body is dropped afterwards): the same headers.
    if response.status_code != 200 or "Content-Encoding" in response.headers:
        return False
    if response.mimetype not in COMPRESSIBLE:
        return False
    if response.mimetype == "text/html" and g.get("user") is not None:
        # A logged-in page carries the CSRF token beside whatever the address reflects: compressed, its
        # size could betray the token to someone watching the network (BREACH). Officers' pages are small.
        return False
    # A static file is sent from disk (small enough to read); any other stream (an export) goes as it is.
    return request.endpoint == "static" or not response.is_streamed


def compress(response: Response) -> Response:
    if not current_app.config["COMPRESS"] or not compressible(response):
        return response
    response.vary.add("Accept-Encoding")  # caches must keep the two forms apart
    if not request.accept_encodings["gzip"]:
        return response
    response.direct_passthrough = False
    body = response.get_data()
    if len(body) < SMALLEST:
        return response
    response.set_data(static_gzip(body) if request.endpoint == "static" else gzip.compress(body, LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    if request.endpoint == "static":
        # Not the file's bytes any more: a range of them, or the file's own strong ETag, would not fit.
        response.headers.pop("Accept-Ranges", None)
        etag, weak = response.get_etag()
        if etag and not weak:
            response.set_etag(etag, weak=True)
    return response


def static_gzip(body: bytes) -> bytes:
    """A static file compressed once per content (Leaflet took 4 ms each time), not once per request."""
    filename = request.view_args.get("filename", "")
    key = (filename, file_version(filename))  # the content's hash, kept by app.assets while the file is unchanged
    packed = _static.get(key)
    if packed is None:
        packed = _static[key] = gzip.compress(body, 9, mtime=0)  # once only: the smallest is worth it
    return packed


_static: dict[tuple[str, str | None], bytes] = {}


def init_app(app: Flask) -> None:
    app.after_request(compress)
