"""Coordinate systems of imported files, and the checks that catch wrong ones.

Vietnamese official data is usually in VN-2000 with a provincial central
meridian. Files often carry a .prj naming only the projection (no datum
shift) or none at all; the user can then name the CRS (`--crs EPSG:9209`),
and a VN-2000 .prj without an EPSG code is matched to the EPSG definition
with the same central meridian, which carries the datum shift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.database import query_crs_info
from pyproj.exceptions import CRSError, ProjError

WGS84 = CRS.from_epsg(4326)
TM3_SCALE = 0.9999  # the provincial VN-2000 projections; UTM's is 0.9996
VN2000_NAME = re.compile(r"vn[\s_-]*2000|vietnam[\s_-]*2000", re.IGNORECASE)
METRES_HINT = (
    "the coordinates look like metres, not degrees: name the file's coordinate system, "
    "e.g. --crs EPSG:9209 (VN-2000 / TM-3 105-30, used in Nam Định)"
)


class CrsError(ValueError):
    pass


@dataclass
class CrsChoice:
    crs: CRS
    notes: list[str] = field(default_factory=list)
    exchanged: bool = False  # X and Y read the other way round (axes_exchanged)

    @property
    def label(self) -> str:
        """The system as its code or PROJ string, and its name where it has one (a PROJ string's has not)."""
        code = self.crs.to_string()[:200]
        return code if self.crs.name == "unknown" else f"{code} — {self.crs.name}"


COMMAND_LINE_WORDING = re.compile(r"""^--crs[\s=]*|^(["'])(.*)\1$""")


def parse_crs(text: str) -> CRS:
    """An EPSG code ("9209", "EPSG:9209"), a PROJ string or WKT; also as the command line's wording of it
    (--crs 'EPSG:9209'), which a message may have shown."""
    value = text.strip()
    for _ in range(2):  # the option first, then the quotes it may have had
        value = COMMAND_LINE_WORDING.sub(lambda m: m[2] or "", value).strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError as err:
        detail = str(err).splitlines()[0]
        internal = re.search(r"\(Internal Proj Error: (?:proj_create: )?(.*)\)", detail)
        detail = internal[1] if internal else detail  # PROJ's own reason, without its wrapping
        if re.fullmatch(r"EPSG:\d+", value, re.IGNORECASE) and "crs not found" in detail:
            detail = "no such code in the EPSG register"  # said plainly, and translated
        raise CrsError(f"unknown coordinate system {text[:80]!r}: {detail[:160]}") from None


def usable(crs: CRS, said: str) -> CRS:
    """`crs` if shapes can be read in it: longitude/latitude or projected (the horizontal part of a
    compound one), and convertible to WGS 84 by PROJ; else a CrsError naming it as `said`."""
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    if not (crs.is_geographic or crs.is_projected):
        raise CrsError(f"{said[:80]} is not a coordinate system of longitude/latitude or of a map projection")
    try:
        transformer_to_wgs84(crs.to_wkt())
    except (ProjError, CRSError) as err:
        reason = re.sub(r"^.*proj_create_operations: |\. You may override.*$", "", str(err).splitlines()[0])
        raise CrsError(f"{said[:80]} cannot be converted to WGS 84: {reason[:160]}") from None
    return crs


@cache
def vn2000_by_meridian() -> dict[float, str]:
    """EPSG codes of the VN-2000 TM-3 and UTM projections, by central meridian."""
    out: dict[float, str] = {}
    for info in query_crs_info(auth_name="EPSG", pj_types="PROJECTED_CRS"):
        if info.name.startswith("VN-2000 /"):
            meridian = central_meridian(CRS.from_epsg(int(info.code)))
            if meridian is not None:
                out.setdefault(round(meridian, 4), f"EPSG:{info.code}")
    return out


def central_meridian(crs: CRS) -> float | None:
    operation = crs.coordinate_operation
    if operation is None:
        return None
    for param in operation.params:
        if "central meridian" in param.name.lower() or "longitude of natural origin" in param.name.lower():
            return float(param.value)
    return None


def choose_crs(file_crs: str | None, user_crs: str | None) -> CrsChoice:
    """The CRS to read a file in: the user's, else the file's (fixed up for VN-2000), else WGS 84."""
    if user_crs:
        return CrsChoice(usable(parse_crs(user_crs), user_crs), [f"coordinate system given: {user_crs}"])
    if not file_crs:
        return CrsChoice(WGS84, ["the file names no coordinate system: assuming WGS 84 longitude/latitude"])
    crs = parse_crs(file_crs)
    crs = usable(crs, crs.name)
    if crs.to_epsg(min_confidence=70) is None and VN2000_NAME.search(crs.to_wkt()):
        meridian = central_meridian(crs)
        code = vn2000_by_meridian().get(round(meridian, 4)) if meridian is not None else None
        if code:
            return CrsChoice(
                CRS.from_user_input(code),
                [f"the file's VN-2000 projection has no datum shift: read as {code} ({CRS.from_user_input(code).name})"],
            )
        return CrsChoice(crs, ["the file's VN-2000 definition has no EPSG match: its datum shift may be missing"])
    refuse_vn2000_lookalike(crs)
    return CrsChoice(crs, [])


def refuse_vn2000_lookalike(crs: CRS) -> None:
    """A projection that is VN-2000's provincial TM-3 on another datum is what a .prj reads like when the
    tool that wrote it left VN-2000's datum out; the data are then nearly always VN-2000, and read as the
    .prj says they would land about 200 m off, often in the next commune. The user says which it is."""
    if not crs.is_projected or VN2000_NAME.search(crs.datum.name if crs.datum else ""):
        return
    params = {p.name.lower(): p.value for p in crs.coordinate_operation.params} if crs.coordinate_operation else {}
    meridian = central_meridian(crs)
    code = vn2000_by_meridian().get(round(meridian, 4)) if meridian is not None else None
    if not code or params.get("scale factor at natural origin") != TM3_SCALE:
        return
    raise CrsError(
        f"the file's projection is that of {code} ({CRS.from_user_input(code).name}) but on the datum {crs.datum.name}, "
        f"as files read when their VN-2000 datum was left out: give --crs {code} if the data are in VN-2000, or "
        f"--crs '{crs.to_proj4()}' to read them as the file says (the two lie about 200 m apart)"
    )


def check_degrees(bounds: tuple[float, float, float, float], crs: CRS) -> None:
    """Refuse projected metres declared as degrees, with a hint."""
    # Beyond ±180 on either axis is no longitude or latitude at all. Latitudes up to 180 are
    # left alone: swapped longitude/latitude are reported row by row, not taken for metres.
    if crs.is_geographic and max(abs(v) for v in bounds) > 180:
        raise CrsError(METRES_HINT)


AXES_EXCHANGED = ("X and Y were read the other way round, as Vietnamese survey tables write them (X the northing): "
                  "only so do the shapes lie in the province")


def axes_exchanged(middle: tuple[float, float], crs: CRS, area: tuple[float, float, float, float]) -> bool:
    """Whether projected coordinates (their `middle`) land in the working area only with X and Y exchanged: a surveyor's
    table names the northing X, which a reader takes for the easting. Only in the transverse Mercator
    projections surveys use (VN-2000, UTM): Web Mercator's numbers for the Arctic swap into Nam Định."""
    operation = crs.coordinate_operation if crs.is_projected else None
    if operation is None or "Transverse Mercator" not in operation.method_name:
        return False
    transformer = transformer_to_wgs84(crs.to_wkt())

    def inside(x: float, y: float) -> bool:
        lon, lat = transformer.transform(x, y)
        return area[0] <= lon <= area[2] and area[1] <= lat <= area[3]

    x, y = middle
    return not inside(x, y) and inside(y, x)


@cache
def transformer_to_wgs84(crs_wkt: str) -> Transformer:
    # Building a transformer costs milliseconds: once per CRS, not per batch.
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)


def to_wgs84(geometries: np.ndarray, crs: CRS, exchanged: bool = False) -> np.ndarray:
    """Shapely geometries reprojected to EPSG:4326 (lon, lat) by PROJ; their X and Y exchanged first if asked."""
    if exchanged:
        geometries = shapely.transform(geometries, lambda coords: coords[:, ::-1])
    if crs.equals(WGS84, ignore_axis_order=True):
        return geometries
    transformer = transformer_to_wgs84(crs.to_wkt())

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, project)
