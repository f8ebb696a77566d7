// Leaflet-Geoman wiring. The feature being edited lives in a working group
// of its own; everything else on the map is ignored by Geoman's tools
// (pmIgnore) but still offered for snapping (snapIgnore: false), so the
// toolbar's edit, move, cut and remove modes only ever touch that feature.

import { t } from "../i18n.js";

const L = window.L;

const PRECISION = 8;
const SNAP_DISTANCE = 16;

export function workStyle(layer) {
  const style = layer.style || {};
  return {
    color: style.color || "#1b4332",
    fillColor: style.fillColor || "#52b788",
    fillOpacity: 0.45,
    weight: 3,
    className: "edit-working-shape",
  };
}

export function geomanStrings() {
  return {
    tooltips: {
      placeMarker: t("gm_place_marker"),
      firstVertex: t("gm_first_vertex"),
      continueLine: t("gm_continue"),
      finishPoly: t("gm_finish_poly"),
      finishRect: t("gm_finish_rect"),
    },
    actions: {
      finish: t("gm_finish"),
      cancel: t("gm_cancel"),
      removeLastVertex: t("gm_remove_last"),
    },
    buttonTitles: {
      drawMarkerButton: t("gm_draw_marker"),
      drawPolyButton: t("gm_draw_polygon"),
      drawRectButton: t("gm_draw_rect"),
      editButton: t("gm_edit"),
      dragButton: t("gm_drag"),
      cutButton: t("gm_cut"),
      deleteButton: t("gm_remove"),
    },
  };
}

export function createDrawing(map, { onCreate, onChange }) {
  const work = L.featureGroup().addTo(map);
  let layer = null;
  let pendingPart = false;

  if (!map.pm) throw new Error("Leaflet-Geoman is not loaded");
  // Geoman has no Vietnamese: its strings come from our catalogue instead.
  map.pm.setLang("vung", geomanStrings(), "en");
  map.pm.setGlobalOptions({
    snappable: true,
    snapDistance: SNAP_DISTANCE,
    snapSegment: true,
    allowSelfIntersection: true,
    continueDrawing: false,
    pathOptions: { className: "edit-working-shape" },
  });
  map.pm.Draw.Marker.setOptions({ continueDrawing: false });

  function setLayer(next) {
    layer = next;
    stopTools();
    clear();
    map.pm.removeControls();
    const points = layer.geometry === "Point" || layer.geometry === "Geometry";
    const areas = layer.geometry !== "Point";
    map.pm.addControls({
      position: "topleft",
      drawMarker: points,
      drawPolygon: areas,
      drawRectangle: areas,
      cutPolygon: areas,
      drawPolyline: false,
      drawCircle: false,
      drawCircleMarker: false,
      drawText: false,
      editMode: true,
      dragMode: true,
      removalMode: true,
      rotateMode: false,
      snappingOption: false,
    });
    map.pm.setPathOptions(workStyle(layer));
    nameToolbarButtons(map.getContainer());
  }

  // Geoman titles the button's wrapper; screen readers need the link named.
  function nameToolbarButtons(container) {
    for (const wrapper of container.querySelectorAll(".leaflet-pm-toolbar .button-container[title]")) {
      const button = wrapper.querySelector(".leaflet-buttons-control-button");
      button?.setAttribute("aria-label", wrapper.getAttribute("title"));
      button?.setAttribute("role", "button");
    }
  }

  function stopTools() {
    pendingPart = false;
    map.pm.disableDraw();
    if (map.pm.globalEditModeEnabled()) map.pm.disableGlobalEditMode();
    if (map.pm.globalDragModeEnabled()) map.pm.disableGlobalDragMode();
    if (map.pm.globalRemovalModeEnabled()) map.pm.disableGlobalRemovalMode();
    if (map.pm.Draw.Cut?.enabled()) map.pm.Draw.Cut.disable();
  }

  // True while a Geoman tool owns the mouse: clicks then belong to it.
  function busy() {
    const drawing = map.pm.Draw.getShapes().some((shape) => map.pm.Draw[shape]?.enabled?.());
    return drawing || map.pm.globalEditModeEnabled() || map.pm.globalDragModeEnabled() ||
      map.pm.globalRemovalModeEnabled();
  }

  function watch(part) {
    part.on("pm:edit pm:dragend pm:markerdragend pm:vertexadded pm:vertexremoved", () => onChange());
  }

  function adopt(part) {
    if (map.hasLayer(part) && !work.hasLayer(part)) map.removeLayer(part);
    if (part.setStyle && layer) part.setStyle(workStyle(layer));
    work.addLayer(part);
    watch(part);
  }

  // Shapes of one geometry as separate editable parts: each polygon of a
  // multipolygon can then be moved or removed on its own.
  function load(geometry) {
    clear();
    for (const part of partsOf(geometry)) adopt(part);
    if (map.pm.globalEditModeEnabled()) {
      work.eachLayer((part) => part.pm?.enable());
    }
  }

  function partsOf(geometry) {
    if (!geometry) return [];
    const toLatLngs = (ring) => ring.map(([lon, lat]) => L.latLng(lat, lon));
    const style = layer ? workStyle(layer) : {};
    switch (geometry.type) {
      case "Point":
        return [L.marker(L.latLng(geometry.coordinates[1], geometry.coordinates[0]))];
      case "MultiPoint":
        return geometry.coordinates.map(([lon, lat]) => L.marker(L.latLng(lat, lon)));
      case "Polygon":
        return [L.polygon(geometry.coordinates.map(toLatLngs), style)];
      case "MultiPolygon":
        return geometry.coordinates.map((polygon) => L.polygon(polygon.map(toLatLngs), style));
      case "GeometryCollection":
        return geometry.geometries.flatMap(partsOf);
      default:
        return [];
    }
  }

  function clear() {
    work.eachLayer((part) => part.pm?.disable());
    work.clearLayers();
  }

  // The geometry to send, shaped for the layer's declared type.
  function geometry() {
    const polygons = [];
    const points = [];
    work.eachLayer((part) => {
      const shape = part.toGeoJSON(PRECISION).geometry;
      if (shape.type === "Point") points.push(shape.coordinates);
      else if (shape.type === "Polygon") polygons.push(shape.coordinates);
      else if (shape.type === "MultiPolygon") polygons.push(...shape.coordinates);
    });
    if (!polygons.length && !points.length) return null;
    if (!polygons.length) {
      if (points.length === 1) return { type: "Point", coordinates: points[0] };
      return { type: "MultiPoint", coordinates: points };
    }
    if (layer?.geometry === "MultiPolygon" || polygons.length > 1) {
      return { type: "MultiPolygon", coordinates: polygons };
    }
    return { type: "Polygon", coordinates: polygons[0] };
  }

  function bounds() {
    return work.getLayers().length ? work.getBounds() : null;
  }

  function addPart() {
    stopTools();
    pendingPart = true;
    map.pm.enableDraw("Polygon", { snappable: true });
  }

  map.on("pm:create", (event) => {
    const part = event.layer;
    if (pendingPart) {
      pendingPart = false;
      adopt(part);
      onChange();
      return;
    }
    onCreate(part, event.shape);
  });

  // Cutting replaces the cut part by a new layer that has the hole.
  map.on("pm:cut", (event) => {
    if (!work.hasLayer(event.originalLayer)) return;
    work.removeLayer(event.originalLayer);
    adopt(event.layer);
    onChange();
  });

  map.on("pm:remove", (event) => {
    if (work.hasLayer(event.layer)) {
      work.removeLayer(event.layer);
      onChange();
    }
  });

  map.on("pm:drawend", () => {
    pendingPart = false;
  });

  return {
    work,
    setLayer,
    load,
    adopt,
    clear,
    geometry,
    bounds,
    addPart,
    stopTools,
    busy,
    partsOf,
  };
}
