"""Language choice: ?lang= sets it (kept in a cookie), Vietnamese by default."""

from flask import Flask, request
from flask_babel import Babel
from flask_babel import gettext as _

LANGUAGES = ("vi", "en")
COOKIE = "lang"


def select_locale() -> str:
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    return asked if asked in LANGUAGES else "vi"


def remember_locale(response):
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def popup_strings() -> dict[str, str]:
    """The words of static/js/popup.js, on the app's maps and in published maps, in the language chosen."""
    return {
        "details": _("View details"),
        "illustrative": _("Illustrative sketch: this shape is approximate, not a surveyed boundary."),
        "yes": _("Yes"),
        "no": _("No"),
    }


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.after_request(remember_locale)
    app.jinja_env.globals["popup_strings"] = popup_strings
