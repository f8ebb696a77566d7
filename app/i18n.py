"""Language choice: ?lang= sets it (kept in a cookie), Vietnamese by default."""

from flask import Flask, g, request
from flask_babel import Babel
from flask_babel import gettext as _

LANGUAGES = ("vi", "en")
COOKIE = "lang"


def select_locale() -> str:
    asked = request.args.get("lang")
    if not asked:
        asked = request.cookies.get(COOKIE)
        g.locale_from_cookie = True  # an answer in this language differs by cookie (remember_locale)
    return asked if asked in LANGUAGES else "vi"


def remember_locale(response):
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
    if g.get("locale_from_cookie"):
        # Shared caches must not hand one visitor's language to the next (TileJSON's names, pages).
        response.vary.add("Cookie")
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
