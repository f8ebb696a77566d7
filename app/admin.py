"""Administration in the browser: users, roles, passwords and API tokens.

Plain forms posting back to this page; every change is CSRF-checked by
app.auth like any other state-changing request.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.auth import Forbidden, page_for_users, require_user
from app.db import db
from app.pages import current_lang
from layers import editable_layers
from layers.accounts import (
    ROLES,
    AccountError,
    create_token,
    create_user,
    list_tokens,
    list_users,
    revoke_token,
    set_password,
    set_role,
)
from layers.query import list_districts

bp = Blueprint("admin", __name__)


def require_admin() -> None:
    if require_user().role != "admin":
        raise Forbidden("Only administrators manage users and tokens.")


def form_list(name: str) -> list[str] | None:
    """Checked boxes of a multi-select; none checked means no limit."""
    values = [v for v in request.form.getlist(name) if v]
    return values or None


@bp.get("/admin")
@page_for_users
def admin_page():
    require_admin()
    return render_template(
        "admin.html", users=db().read(list_users), tokens=db().read(list_tokens), roles=ROLES,
        layers=editable_layers(), districts=db().read(list_districts),
        lang=current_lang(),
    )


def run(action, *args) -> object | None:
    """The action's result (True when it returns nothing), or None after flashing why it failed."""
    try:
        with db().begin() as conn:
            result = action(conn, *args)
    except AccountError as err:
        flash(str(err), "error")
        return None
    return True if result is None else result


@bp.post("/admin/users")
def add_user():
    require_admin()
    form = request.form
    user = run(create_user, form.get("username", ""), form.get("password", ""), form.get("role", ""),
               form_list("layers"), form_list("districts"))
    if user:
        flash(gettext("User %(name)s created.", name=user.username), "ok")
    return redirect(url_for("admin.admin_page"), 303)


@bp.post("/admin/users/role")
def change_role():
    require_admin()
    form = request.form
    if run(set_role, form.get("username", ""), form.get("role", ""), form_list("layers"), form_list("districts")):
        flash(gettext("Role saved."), "ok")
    return redirect(url_for("admin.admin_page"), 303)


@bp.post("/admin/users/password")
def change_password():
    require_admin()
    if run(set_password, request.form.get("username", ""), request.form.get("password", "")):
        flash(gettext("Password changed."), "ok")
    return redirect(url_for("admin.admin_page"), 303)


@bp.post("/admin/tokens")
def add_token():
    require_admin()
    form = request.form
    token = run(create_token, form.get("username", ""), form.get("name", "").strip() or "unnamed")
    if not token:
        return redirect(url_for("admin.admin_page"), 303)
    # Shown once, on this answer only: it is stored hashed.
    return render_template("admin_token.html", token=token, lang=current_lang())


@bp.post("/admin/tokens/revoke")
def remove_token():
    require_admin()
    if run(revoke_token, request.form.get("prefix", "")):
        flash(gettext("Token revoked."), "ok")
    return redirect(url_for("admin.admin_page"), 303)
