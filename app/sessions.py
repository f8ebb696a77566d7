"""Signed-cookie sessions whose signer is built once, and which static files never carry."""

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


class SessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask):
        # Flask rebuilds this for every request, even those without a cookie;
        # on the API's small answers that was a tenth of the work.
        signer = app.extensions.get("vung_session_signer")
        if signer is None:
            signer = app.extensions["vung_session_signer"] = super().get_signing_serializer(app)
        return signer

    def save_session(self, app: Flask, session, response) -> None:
        # Static files and answers marked public (tiles of public layers) are the same for everyone and
        # shared caches keep them: a refreshed session cookie must never ride along, nor Vary: Cookie split the cache.
        if request.endpoint == "static" or response.cache_control.public:
            return
        super().save_session(app, session, response)
