"""Error classes carrying their HTTP status and code, and the handlers."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from gis.params import ParameterError


class ApiError(Exception):
    status = 400
    code = "InvalidParameterValue"

    def __init__(self, description: str, code: str | None = None, **extra):
        super().__init__(description)
        self.description = description
        self.extra = extra  # more members of the JSON answer, e.g. a list of field errors
        if code:
            self.code = code


class NotFound(ApiError):
    status = 404
    code = "NotFound"


class ValidationFailed(ApiError):
    status = 422
    code = "ValidationFailed"


class ServiceUnavailable(ApiError):
    status = 503
    code = "ServiceUnavailable"


def wants_html() -> bool:
    """Pages answer in HTML; the API in JSON unless asked otherwise."""
    if request.args.get("f") == "html":
        return True
    if request.args.get("f") or request.path.startswith(("/ogc", "/healthz", "/tiles", "/export", "/auth", "/edit/", "/import/")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def error_response(status: int, code: str, description: str, extra: dict | None = None):
    if wants_html():
        return render_template("error.html", status=status, code=code, description=description), status
    response = jsonify({"code": code, "description": description, **(extra or {})})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(err: ApiError):
        return error_response(err.status, err.code, err.description, err.extra)

    @app.errorhandler(ParameterError)
    def parameter_error(err: ParameterError):
        return error_response(400, "InvalidParameterValue", str(err))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        response = make_response(error_response(err.code or 500, err.name.replace(" ", ""), err.description or err.name))
        for name, value in err.get_headers():
            if name.lower() != "content-type":  # a 405's Allow, say
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    def database_down(err: OperationalError):
        app.logger.warning("database unavailable: %s", err.orig)
        return error_response(503, "ServiceUnavailable", "The database is not answering; try again shortly.")

    @app.errorhandler(DBAPIError)
    def database_error(err: DBAPIError):
        if err.connection_invalidated:
            return error_response(503, "ServiceUnavailable", "The database connection was lost; try again.")
        app.logger.exception("database error")
        return error_response(500, "ServerError", "The server could not complete the request.")
