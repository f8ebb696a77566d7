"""Signed-cookie sessions whose signer is built once, not on every request."""

from flask import Flask
from flask.sessions import SecureCookieSessionInterface


class SessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask):
        # Flask rebuilds this for every request, even those without a cookie;
        # on the API's small answers that was a tenth of the work.
        signer = app.extensions.get("vung_session_signer")
        if signer is None:
            signer = app.extensions["vung_session_signer"] = super().get_signing_serializer(app)
        return signer
