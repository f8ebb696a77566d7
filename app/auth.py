"""Who is asking, and may they: sessions, API tokens, CSRF, permissions.

One model for every way in: pages, the OGC API, exports and tiles all call
these functions, so the same user gets the same answer everywhere.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import Flask, g, redirect, request, session, url_for

from app.db import db
from app.errors import ApiError
from layers.accounts import User, get_user, user_for_token
from layers.base import Layer

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_ANONYMOUS_ENDPOINTS = {"accounts.login", "accounts.logout"}


class Unauthorized(ApiError):
    status = 401
    code = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "Forbidden"


def current_user() -> User | None:
    return g.get("user")


def load_user() -> None:
    g.user, g.via_token = None, False
    if request.endpoint == "static":  # the same for everyone: no query, no session read (so no Vary: Cookie)
        return
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        with db().begin() as conn:
            g.user = user_for_token(conn, header[7:].strip())
        if g.user is None:
            raise Unauthorized("The API token is unknown or revoked.")
        g.via_token = True
    elif "uid" in session:
        g.user = db().read(get_user, session["uid"])
        if g.user is None:
            session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Browsers must prove a state-changing request comes from our own pages.

    Anonymous requests carry no authority to abuse, except logging in, which
    is checked too (no logging a victim into the attacker's account).
    """
    if request.method not in UNSAFE_METHODS or g.get("via_token"):
        return
    if g.get("user") is None and request.endpoint not in CSRF_ANONYMOUS_ENDPOINTS:
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("Missing or wrong CSRF token: reload the page and try again.", code="CsrfFailed")


def log_in(user: User) -> None:
    session.clear()  # a new session on login: nothing carried over from before
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def log_out() -> None:
    session.clear()


def may_read(layer: Layer) -> bool:
    if layer.public:
        return True
    return current_user() is not None


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Unauthorized("Log in, or send an API token (Authorization: Bearer ...).")
    return user


def require_editor(layer: Layer) -> User:
    user = require_user()
    if not layer.editable or not user.may_edit_layer(layer.id):
        raise Forbidden(f"You may not edit {layer.id}.")
    return user


def require_district(user: User, district_code: str | None) -> None:
    if not user.may_edit_district(district_code):
        raise Forbidden("This feature lies outside the districts you may edit.")


def page_for_users(view):
    """An HTML page: anonymous visitors are sent to log in and brought back."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("accounts.login_page", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    app.before_request(load_user)
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
