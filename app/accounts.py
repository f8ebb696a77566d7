"""Login and logout pages, and who am I for scripts and the editor."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request
from flask_babel import gettext

from app.auth import csrf_token, log_in, log_out, require_user
from app.db import db
from app.errors import ApiError
from app.pages import current_lang
from layers.accounts import authenticate, recent_failures, record_login

bp = Blueprint("accounts", __name__)


class TooManyAttempts(ApiError):
    status = 429
    code = "TooManyRequests"


def safe_next(target: str | None) -> str:
    """Only paths on this site: a login link must not send people elsewhere."""
    if (
        not target or not target.startswith("/") or target.startswith("//")
        or any(c in target for c in "\\\r\n\t") or urlsplit(target).netloc
    ):
        return "/edit"
    return target


def check_rate(username: str, address: str) -> None:
    cfg = current_app.config
    by_name, by_address = db().read(recent_failures, username, address, cfg["LOGIN_WINDOW_MINUTES"])
    if by_name >= cfg["LOGIN_FAILURES_PER_USER"] or by_address >= cfg["LOGIN_FAILURES_PER_ADDRESS"]:
        raise TooManyAttempts(
            f"Too many failed logins; try again in {cfg['LOGIN_WINDOW_MINUTES']} minutes."
        )


def login_form(error: str | None = None, status: int = 200):
    page = render_template(
        "login.html", error=error, next=safe_next(request.values.get("next")), lang=current_lang(),
    )
    return page, status


@bp.get("/login")
def login_page():
    return login_form()


@bp.post("/login")
def login():
    username = request.form.get("username", "").strip()[:80]
    password = request.form.get("password", "")[:1000]
    address = request.remote_addr or "unknown"
    check_rate(username, address)
    with db().begin() as conn:
        user = authenticate(conn, username, password) if username and password else None
        record_login(conn, username, address, user is not None)
    if user is None:
        return login_form(gettext("Wrong username or password."), 401)
    log_in(user)
    return redirect(safe_next(request.form.get("next")), 303)


@bp.post("/logout")
def logout():
    log_out()
    return redirect("/", 303)


@bp.get("/auth/me")
def me():
    user = require_user()
    return jsonify({
        "username": user.username, "role": user.role,
        "layers": list(user.layers) if user.layers is not None else None,
        "districts": list(user.districts) if user.districts is not None else None,
        # A token needs no CSRF token, and making one would hand its client a session cookie.
        "csrfToken": None if g.via_token else csrf_token(),
    })
