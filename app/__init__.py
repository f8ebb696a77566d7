"""Vùng: a web GIS for provincial farming, aquaculture, craft and heritage data."""

from __future__ import annotations

from flask import Flask

from app import (
    accounts,
    admin,
    assets,
    auth,
    cli,
    compression,
    config,
    db,
    edit,
    exports,
    features,
    guards,
    i18n,
    imports,
    ogc,
    pages,
    publish,
    tiles,
)
from app.errors import register_error_handlers
from app.sessions import SessionInterface
from app.stats import bp as stats_bp


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(config.from_environment())
    if overrides:
        app.config.update(overrides)
    app.session_interface = SessionInterface()
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    db.init_app(app)
    # after_request functions run last-registered first: compression sees the final answer,
    # and the static caching rules see every cookie set.
    compression.init_app(app)
    assets.init_app(app)
    i18n.init_app(app)
    register_error_handlers(app)
    guards.init_app(app)
    auth.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(ogc.bp, url_prefix="/ogc")
    app.register_blueprint(features.bp, url_prefix="/ogc")
    app.register_blueprint(accounts.bp)
    app.register_blueprint(edit.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(publish.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(stats_bp)
    app.register_blueprint(tiles.bp)
    cli.init_app(app)
    return app
