"""QGIS as a planner's desktop uses it, reading the live app: run by Debian's
Python (python3-qgis), not the project's virtualenv, from tests/test_qgis.py.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_client.py '<job as JSON>'

The job names the app's address, the OGC API collections to read (each with
an optional QGIS filter expression) and the vector tile views to draw; the
answer, printed as JSON, holds what QGIS saw: per collection whether the
layer is valid, its CRS, fields and every feature's name; per view how many
sampled pixels the tiles painted.
"""

from __future__ import annotations

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
WEB_MERCATOR = QgsCoordinateReferenceSystem("EPSG:3857")
WHITE = QColor(255, 255, 255)
SIZE = 256


def read_collection(base: str, name: str, expression: str | None) -> dict:
    layer = QgsVectorLayer(f"url='{base}/ogc' typename='{name}' restrictToRequestBBOX='0'", name, "OAPIF")
    if expression:
        layer.setSubsetString(expression)
    features = list(layer.getFeatures()) if layer.isValid() else []
    return {
        "valid": layer.isValid(),
        "crs": layer.crs().authid(),
        "fields": [f.name() for f in layer.fields()],
        "names": [f["name"] for f in features],
        "with_geometry": sum(1 for f in features if f.hasGeometry() and not f.geometry().isEmpty()),
    }


def painted(base: str, name: str, bbox: list[float]) -> int:
    """Sampled pixels that are not the white background once QGIS has drawn the layer's tiles over `bbox`."""
    tiles = QgsVectorTileLayer(f"type=xyz&url={base}/tiles/{name}/{{z}}/{{x}}/{{y}}.pbf&zmin=0&zmax=16", name)
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles(QgsVectorTileBasicRenderer.simpleStyleWithRandomColors())
    tiles.setRenderer(renderer)
    settings = QgsMapSettings()
    settings.setLayers([tiles])
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setBackgroundColor(WHITE)
    settings.setDestinationCrs(WEB_MERCATOR)
    to_mercator = QgsCoordinateTransform(WGS84, WEB_MERCATOR, QgsProject.instance())
    settings.setExtent(to_mercator.transformBoundingBox(QgsRectangle(*bbox)))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return sum(1 for x in range(0, SIZE, 2) for y in range(0, SIZE, 2) if image.pixelColor(x, y) != WHITE)


def main(job: dict) -> dict:
    base = job["base"]
    return {
        "collections": [read_collection(base, c["name"], c.get("filter")) for c in job.get("collections", [])],
        "views": [painted(base, v["layer"], v["bbox"]) for v in job.get("views", [])],
    }


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        answer = main(json.loads(sys.argv[1]))
    finally:
        app.exitQgis()
    print(json.dumps(answer, ensure_ascii=False))
