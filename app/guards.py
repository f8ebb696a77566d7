"""Checks applied to every request before any handler sees it."""

from flask import Flask, request

from app.errors import ApiError


def reject_nul_bytes() -> None:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver.
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise ApiError("Query parameters must not contain NUL characters.")
    if "\x00" in request.path:
        raise ApiError("The path must not contain NUL characters.")


def init_app(app: Flask) -> None:
    app.before_request(reject_nul_bytes)
