"""Configuration, read from the environment once, when the app is created."""

import os
from pathlib import Path

TRANSLATIONS = str(Path(__file__).resolve().parent.parent / "translations")
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/vung"

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

# The sample province's extent with a margin; another province sets its own (VUNG_WORKING_AREA).
DEFAULT_BOUNDS = (105.85, 19.85, 106.65, 20.6)


# Shown on every map: the sample's sources ask for these lines.
DATA_ATTRIBUTION = [
    "District boundaries: Cổng TTĐT Chính phủ (gis.chinhphu.vn) via github.com/daohoangson/dvhcvn (GPL-3.0)",
    "© GeoNames (geonames.org), CC BY 4.0",
    "Wikipedia contributors, CC BY-SA 4.0",
    "Bách khoa Việt Nam – Không gian & Thời gian (github.com/mainguyenanhvu/vietnam-spacetime-encyclopedia), CC BY-SA 4.0",
    "© OpenStreetMap contributors (ODbL)",
]


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgres:// URLs as given to libpq and psql."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def bounds(text: str | None) -> tuple[float, float, float, float]:
    """"minx,miny,maxx,maxy" in degrees (VUNG_WORKING_AREA), or the sample province's."""
    if not text:
        return DEFAULT_BOUNDS
    try:
        minx, miny, maxx, maxy = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"VUNG_WORKING_AREA must be minx,miny,maxx,maxy in degrees, not {text!r}") from None
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ValueError(f"VUNG_WORKING_AREA {text!r} is not a box in degrees: longitudes within -180..180, "
                         "latitudes within -90..90, minx < maxx and miny < maxy")
    return minx, miny, maxx, maxy


def from_environment() -> dict:
    env = os.environ
    area = bounds(env.get("VUNG_WORKING_AREA"))
    return {
        "DATABASE_URL": sqlalchemy_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
        "SECRET_KEY": env.get("SECRET_KEY", "dev-only-change-me"),
        "TILE_URL": env.get("VUNG_TILE_URL", OSM_TILES),
        "TILE_ATTRIBUTION": env.get("VUNG_TILE_ATTRIBUTION", OSM_ATTRIBUTION),
        "TILE_MAX_ZOOM": int(env.get("VUNG_TILE_MAX_ZOOM", "19")),
        # How long any cache may keep the vector tiles (and TileJSON) of public layers.
        "TILES_MAX_AGE": int(env.get("VUNG_TILES_MAX_AGE", "60")),
        # gzip answers for clients that accept it (app.compression); 0 behind a proxy that compresses.
        "COMPRESS": env.get("VUNG_COMPRESS", "1") not in ("0", "false", "no"),
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_TRANSLATION_DIRECTORIES": TRANSLATIONS,
        # Largest request, uploads included (413 beyond).
        "MAX_CONTENT_LENGTH": int(env.get("VUNG_MAX_UPLOAD_MB", "50")) * 1024 * 1024,
        "UPLOAD_DIR": env.get("VUNG_UPLOAD_DIR"),
        # Exports are spooled here (default: the system's temporary directory) and removed once sent.
        "EXPORT_DIR": env.get("VUNG_EXPORT_DIR"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Set VUNG_SECURE_COOKIES=1 behind HTTPS so the session never travels in clear.
        "SESSION_COOKIE_SECURE": env.get("VUNG_SECURE_COOKIES", "") in ("1", "true", "yes"),
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        # Where features may lie (edits and imports refuse others), and where the map opens.
        "WORKING_AREA": area,
        "MAX_VERTICES": int(env.get("VUNG_MAX_VERTICES", "10000")),
        "LOGIN_FAILURES_PER_USER": 5,
        "LOGIN_FAILURES_PER_ADDRESS": 30,
        "LOGIN_WINDOW_MINUTES": 15,
        "DATA_ATTRIBUTION": DATA_ATTRIBUTION,
        "MAP_BOUNDS": area,
    }
