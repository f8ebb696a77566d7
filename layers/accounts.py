"""Users, roles, API tokens and login attempts: the statements behind auth."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Connection, text
from werkzeug.security import check_password_hash, generate_password_hash

from layers import REGISTRY, editable_layers
from layers.query import district_code, list_districts

ROLES = ("admin", "editor", "viewer")
TOKEN_PREFIX = "vung_"


@cache
def dummy_hash() -> str:
    """A hash of a fixed string, checked when the user does not exist, so that a
    wrong name costs as much time as a wrong password; made once, when first needed."""
    return generate_password_hash("not a password")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    layers: tuple[str, ...] | None  # None: every layer
    districts: tuple[str, ...] | None  # district codes; None: everywhere

    def may_edit_layer(self, layer_id: str) -> bool:
        if self.role == "admin":
            return True
        return self.role == "editor" and (self.layers is None or layer_id in self.layers)

    def may_edit_some_layer(self) -> bool:
        return any(self.may_edit_layer(layer.id) for layer in editable_layers())

    @property
    def district_scope(self) -> tuple[str, ...] | None:
        """The district codes this user may edit; None for everywhere."""
        return None if self.role == "admin" else self.districts

    def may_edit_district(self, district_code: str | None) -> bool:
        return self.district_scope is None or district_code in self.district_scope


def outside_districts(column: str) -> str:
    """SQL: the district code in `column` is not one of :districts (User.district_scope), or there is none."""
    return f"({column} IS NULL OR {column} <> ALL(:districts))"


class AccountError(ValueError):
    pass


def user_from_row(row) -> User:
    return User(
        row["id"], row["username"], row["role"],
        tuple(row["layers"]) if row["layers"] is not None else None,
        tuple(row["districts"]) if row["districts"] is not None else None,
    )


USER_COLUMNS = "id, username, role, layers, districts"


def check_scope(role: str, layers: list[str] | None, districts: list[str] | None) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    unknown = [name for name in layers or [] if name not in REGISTRY]
    if unknown:
        raise AccountError(f"unknown layer {unknown[0]!r}")
    if districts is not None and not (districts and all(d.strip() for d in districts)):
        raise AccountError("districts must not be empty")  # an empty scope would allow no edit at all


DISTRICT_WORD = re.compile(r"^\s*(huyện|huyen|thành phố|thanh pho|thị xã|thi xa|tp\.?)\s+", re.IGNORECASE)


def district_codes(conn: Connection, given: list[str] | None) -> list[str] | None:
    """The codes of the districts `given` names, each by its code or its name ("366", "Hải Hậu", "huyện hai
    hau"); an AccountError for one naming no district, since a scope naming nothing would refuse every edit."""
    if given is None:
        return None
    codes = []
    for district in given:
        code = district_code(conn, district.strip(), DISTRICT_WORD.sub("", unicodedata.normalize("NFC", district)))
        if code is None:
            known = ", ".join(f"{d['code']} {d['name']}" for d in list_districts(conn))
            raise AccountError(f"no district {district.strip()[:80]!r}; give a code or a name: {known or 'none loaded'}")
        codes.append(code)
    return list(dict.fromkeys(codes))  # "366" and "Hải Hậu" are one district


def check_password(password: str) -> None:
    if len(password) < 8:
        raise AccountError("a password has at least 8 characters")


def create_user(
    conn: Connection, username: str, password: str, role: str,
    layers: list[str] | None = None, districts: list[str] | None = None,
) -> User:
    check_scope(role, layers, districts)
    districts = district_codes(conn, districts)
    username = username.strip()  # stored stripped, so compared stripped too
    if not username or len(username) > 80:
        raise AccountError("a username has 1 to 80 characters")
    check_password(password)
    # The unique index on lower(username) covers deactivated users too, so their
    # names stay taken; a clash, even with a concurrent create, inserts nothing.
    row = conn.execute(
        text(
            "INSERT INTO users (username, password_hash, role, layers, districts) "
            "VALUES (:u, :h, :r, :l, :d) ON CONFLICT (lower(username)) DO NOTHING "
            f"RETURNING {USER_COLUMNS}"
        ),
        {"u": username, "h": generate_password_hash(password), "r": role, "l": layers, "d": districts},
    ).mappings().one_or_none()
    if row is None:
        raise AccountError(f"user {username!r} exists already")
    return user_from_row(row)


def active_user_row(conn: Connection, username: str, columns: str = USER_COLUMNS):
    """The active user's row by name, in any case, with `columns`; None if there is none."""
    return conn.execute(
        text(f"SELECT {columns} FROM users WHERE lower(username) = lower(:u) AND active"), {"u": username}
    ).mappings().one_or_none()


def find_user(conn: Connection, username: str) -> User | None:
    row = active_user_row(conn, username)
    return user_from_row(row) if row else None


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(
        text(f"SELECT {USER_COLUMNS} FROM users WHERE id = :id AND active"), {"id": user_id}
    ).mappings().one_or_none()
    return user_from_row(row) if row else None


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    row = active_user_row(conn, username, f"{USER_COLUMNS}, password_hash")
    if row is None:
        check_password_hash(dummy_hash(), password)
        return None
    return user_from_row(row) if check_password_hash(row["password_hash"], password) else None


def set_role(conn: Connection, username: str, role: str, layers: list[str] | None, districts: list[str] | None) -> None:
    check_scope(role, layers, districts)
    districts = district_codes(conn, districts)
    result = conn.execute(
        text("UPDATE users SET role = :r, layers = :l, districts = :d WHERE lower(username) = lower(:u)"),
        {"u": username, "r": role, "l": layers, "d": districts},
    )
    if result.rowcount == 0:
        raise AccountError(f"no user {username!r}")


def set_password(conn: Connection, username: str, password: str) -> None:
    check_password(password)
    result = conn.execute(
        text("UPDATE users SET password_hash = :h WHERE lower(username) = lower(:u)"),
        {"u": username, "h": generate_password_hash(password)},
    )
    if result.rowcount == 0:
        raise AccountError(f"no user {username!r}")


def list_users(conn: Connection) -> list[User]:
    return [user_from_row(r) for r in conn.execute(text(f"SELECT {USER_COLUMNS} FROM users ORDER BY username")).mappings()]


def token_hash(token: str) -> str:
    # Tokens are long random strings: a fast hash is enough, unlike passwords.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, username: str, name: str) -> str:
    """A new token for `username`; only its hash is stored, so show it once."""
    user = find_user(conn, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        text("INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES (:uid, :n, :h, :p)"),
        {"uid": user.id, "n": name, "h": token_hash(token), "p": token[:12]},
    )
    return token


def revoke_token(conn: Connection, prefix: str) -> None:
    revoked = conn.execute(
        text("UPDATE api_tokens SET revoked_at = now() WHERE prefix = :p AND revoked_at IS NULL"), {"p": prefix}
    ).rowcount
    if not revoked:
        raise AccountError(f"no active token starts with {prefix!r}")


def list_tokens(conn: Connection) -> list[dict]:
    rows = conn.execute(
        text(
            "SELECT t.prefix, t.name, u.username, t.created_at, t.last_used_at, t.revoked_at "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.created_at"
        )
    ).mappings()
    return [dict(r) for r in rows]


def user_for_token(conn: Connection, token: str) -> User | None:
    row = conn.execute(
        text(
            f"UPDATE api_tokens t SET last_used_at = now() FROM users u "
            f"WHERE t.token_hash = :h AND t.revoked_at IS NULL AND u.id = t.user_id AND u.active "
            f"RETURNING {', '.join('u.' + c for c in USER_COLUMNS.split(', '))}"
        ),
        {"h": token_hash(token)},
    ).mappings().one_or_none()
    return user_from_row(row) if row else None


def record_login(conn: Connection, username: str, address: str, success: bool) -> None:
    conn.execute(
        text("INSERT INTO login_attempts (username, address, success) VALUES (:u, :a, :s)"),
        {"u": username.lower()[:200], "a": address, "s": success},
    )


def recent_failures(conn: Connection, username: str, address: str, minutes: int) -> tuple[int, int]:
    """Failed logins in the last `minutes`: for this name, and from this address."""
    row = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE username = :u) AS by_name, count(*) FILTER (WHERE address = :a) AS by_address "
            "FROM login_attempts WHERE NOT success AND at > now() - make_interval(mins => :m)"
        ),
        {"u": username.lower()[:200], "a": address, "m": minutes},
    ).one()
    return row.by_name, row.by_address
