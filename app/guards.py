"""Checks applied to every request before any handler sees it, and headers every answer gets."""

import flask
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import ApiError

# Login and admin forms; an upload's body (multipart) is read only by the handler that wants it.
FORM_TYPE = "application/x-www-form-urlencoded"


def percent_encoded_query(wsgi_app):
    """WSGI middleware: bytes beyond ASCII sent raw in the query string are read as if percent-encoded.

    Werkzeug decodes %XX escapes leniently but fails on raw bytes that are not
    UTF-8 (`?\xff`), everywhere `request.args` is read, error pages included.
    """

    def app(environ, start_response):
        query = environ.get("QUERY_STRING", "")  # WSGI gives the raw bytes as latin-1 text
        if not query.isascii():
            environ["QUERY_STRING"] = "".join(c if c.isascii() else f"%{ord(c):02X}" for c in query)
        return wsgi_app(environ, start_response)

    return app


class Request(flask.Request):
    """Flask's request, with a body sent in chunks (no Content-Length) held to the size limit as any other.

    Werkzeug reads such a body whole only up to the limit and stops there
    without a word: a feature too large then read as broken JSON (400), not
    as too large (413). Read chunk by chunk (uploads), it raises 413 itself.
    """

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        whole = super().get_data(cache=True, parse_form_data=parse_form_data)
        if self.cut_at_limit(whole):
            raise RequestEntityTooLarge()
        return super().get_data(cache=cache, as_text=as_text, parse_form_data=parse_form_data)

    def cut_at_limit(self, data: bytes) -> bool:
        limit = self.max_content_length
        if self.content_length is not None or limit is None or len(data) < limit:
            return False
        try:  # one byte more from the client than Werkzeug took: the body went on beyond the limit
            return bool(self.environ["wsgi.input"].read(1))
        except (OSError, ValueError):  # the client went away meanwhile
            return False


def reject_nul_bytes() -> None:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver.
    fields = [(request.args, "Query parameters")] + ([(request.form, "Form fields")] if request.mimetype == FORM_TYPE else [])
    for found, what in fields:
        if any("\x00" in key or "\x00" in value for key, value in found.items(multi=True)):
            raise ApiError(f"{what} must not contain NUL characters.")
    if "\x00" in request.path:
        raise ApiError("The path must not contain NUL characters.")


def frame_policy(response: Response) -> Response:
    """Only /embed may be framed by other sites; the other pages only by the app's own."""
    if request.endpoint != "publish.embed" and response.mimetype == "text/html":
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def shared_for_a_while(response: Response, layer, visitors_only: bool = False) -> Response:
    """Data of a public layer may be kept a short while by any cache (VUNG_TILES_MAX_AGE): the same for
    everyone, and a tourists' festival day is then not paid by the database alone. Private layers keep
    no-store; with `visitors_only`, so does a logged-in reader (an officer who just saved reads it fresh)."""
    if layer.public and not (visitors_only and g.get("user") is not None):
        response.cache_control.public = True
        response.cache_control.max_age = current_app.config["TILES_MAX_AGE"]
    return response


def private_data_policy(response: Response) -> Response:
    """An answer to someone logged in is kept by no cache but their own: it may show what only they may
    see (private layers, who edited what, their CSRF token). Static files, and answers their handler made
    public (tiles of public layers), are the same for everyone."""
    # A static file has no user: app.auth.load_user does not look for one.
    if g.get("user") is not None and not response.cache_control.public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    app.wsgi_app = percent_encoded_query(app.wsgi_app)
    app.request_class = Request
    app.before_request(reject_nul_bytes)
    app.after_request(frame_policy)
    app.after_request(private_data_policy)
