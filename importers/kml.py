"""The attributes of KML placemarks, which GDAL's KML driver leaves out.

Phones and Google My Maps write a placemark's attributes as ExtendedData
(``<Data name="..."><value>``), and exports write SchemaData/SimpleData; the
KML driver of the GDAL that pyogrio brings reads only name and description.
Here the attributes are read with a parser that refuses entities and
document types, container by container in the order GDAL makes its layers of
them, and set beside GDAL's own reading of the placemarks in a GeoPackage,
which the importer then reads instead of the KML.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse

CONTAINERS = {"kml", "Document", "Folder"}
SHAPES = {"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry", "Track", "MultiTrack"}
# Columns GDAL's reading or the GeoPackage has already, compared as the GeoPackage does: ignoring case.
TAKEN = {"fid", "geom", "geometry"}
DATA_NOT_MATCHED = "The placemarks' attributes (ExtendedData) could not be matched to them: only name and description are read."


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # KML 2.2, 2.1 or no namespace at all


def placemark_data(path: Path) -> list[list[dict[str, str]]]:
    """The attributes of each placemark, per container holding placemarks, the containers in the order
    their ends come (a folder's inner folders before it), which is GDAL's order of layers."""
    containers: list[list[dict[str, str]]] = []  # open ones, innermost last
    found: list[list[dict[str, str]]] = []
    placemark: dict[str, str] | None = None
    shaped = False  # GDAL leaves out a placemark without a shape
    for event, element in iterparse(str(path), events=("start", "end")):
        tag = local(element.tag)
        if event == "start":
            if tag in CONTAINERS:
                containers.append([])
            elif tag == "Placemark":
                placemark, shaped = {}, False
            elif tag in SHAPES:
                shaped = True
            continue
        if tag in CONTAINERS:
            own = containers.pop()
            if own:
                found.append(own)
        elif tag == "Placemark" and placemark is not None:
            if shaped:
                containers[-1].append(placemark)
            placemark = None
            element.clear()  # memory stays flat however many placemarks
        elif placemark is not None and tag in ("Data", "SimpleData") and element.get("name"):
            value = element.findtext("{*}value") if tag == "Data" else element.text
            if element.get("name").strip():
                placemark.setdefault(element.get("name").strip(), (value or "").strip())
    return found


def with_placemark_data(path: Path, workdir: Path) -> tuple[Path, list[str]]:
    """A GeoPackage of the KML's layers as GDAL reads them plus their placemarks' attributes, and notes;
    the KML itself when it has no attributes or they cannot be matched to GDAL's placemarks."""
    try:
        data = placemark_data(path)
    except (ParseError, DefusedXmlException):  # GDAL read it: let GDAL's reading stand
        return path, [DATA_NOT_MATCHED]
    if not any(marks for layer in data for marks in layer):
        return path, []
    layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    frames = [pyogrio.read_dataframe(path, layer=name) for name in layers]
    if len(frames) != len(data) or any(len(frame) != len(marks) for frame, marks in zip(frames, data, strict=False)):
        return path, [DATA_NOT_MATCHED]
    target = workdir / f"{path.stem}-data.gpkg"
    try:
        for name, frame, marks in zip(layers, frames, data, strict=True):
            pyogrio.write_dataframe(with_attributes(frame, marks), target, layer=name, driver="GPKG",
                                    geometry_type="Unknown", promote_to_multi=False, append=target.exists())
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as err:
        target.unlink(missing_ok=True)
        return path, [f"{DATA_NOT_MATCHED} ({str(err).splitlines()[0][:160]})"]
    return target, []


def with_attributes(frame, marks: list[dict[str, str]]):
    """GDAL's reading of a layer with its placemarks' attributes as columns. An attribute of the same name
    as GDAL's Name or Description (this app's exports write the real description so) takes that name, GDAL's
    column becoming "... (KML)"; names the GeoPackage has already (fid, geom), or another attribute's
    written otherwise, get " (ExtendedData)". Names are compared ignoring case, as the GeoPackage does."""
    columns: dict[str, None] = {}  # every name, as first met
    for attributes in marks:
        columns.update(dict.fromkeys(attributes))
    own = {str(c).lower(): str(c) for c in frame.columns if c != "geometry"}
    frame = frame.rename(columns={own[c.lower()]: f"{own[c.lower()]} (KML)" for c in columns if c.lower() in own})
    taken = set(TAKEN) | {str(c).lower() for c in frame.columns}
    for column in columns:
        named = column if column.lower() not in taken else f"{column} (ExtendedData)"
        while named.lower() in taken:
            named += "'"
        taken.add(named.lower())
        frame[named] = [m.get(column) for m in marks]
    return frame
