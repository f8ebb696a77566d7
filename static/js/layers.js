// One view per configured layer: points go into a marker cluster, polygons
// into a plain group. Features are diffed by id on each reload so that
// unchanged features (and an open popup) survive panning.

import { el } from "./dom.js";
import { currentLang, formatInteger } from "./i18n.js";
import { buildPopup } from "./popup.js";

const L = window.L;

// Zoomed out this far, a zone of a few hectares is a speck: each area also
// gets a marker (clustered like points) so that it can be seen and tapped.
const AREA_MARKER_MAX_ZOOM = 12;

export function createLayerView(map, layer) {
  const markers = clusterGroup(layer);
  const areaMarkers = clusterGroup(layer, "area");
  const shapes = L.featureGroup();
  const group = L.layerGroup([shapes, markers]);
  const entries = new Map();

  function setFeatures(features) {
    const keep = new Set(features.map((feature) => String(feature.id)));
    const stale = [...entries.keys()].filter((id) => !keep.has(id));
    removeEntries(stale);
    addFeatures(features);
  }

  function addFeatures(features) {
    const replaced = [];
    const fresh = [];
    for (const feature of features) {
      const id = String(feature.id);
      const existing = entries.get(id);
      if (existing && existing.version === versionOf(feature)) continue;
      if (existing) replaced.push(id);
      fresh.push(feature);
    }
    removeEntries(replaced);
    const newMarkers = [];
    const newAreaMarkers = [];
    for (const feature of fresh) {
      const entry = createEntry(feature);
      entries.set(String(feature.id), entry);
      if (entry.marker) newMarkers.push(entry.marker);
      if (entry.shape) shapes.addLayer(entry.shape);
      if (entry.areaMarker) newAreaMarkers.push(entry.areaMarker);
    }
    markers.addLayers(newMarkers);
    areaMarkers.addLayers(newAreaMarkers);
  }

  function removeEntries(ids) {
    const oldMarkers = [];
    const oldAreaMarkers = [];
    for (const id of ids) {
      const entry = entries.get(id);
      if (entry.marker) oldMarkers.push(entry.marker);
      if (entry.shape) shapes.removeLayer(entry.shape);
      if (entry.areaMarker) oldAreaMarkers.push(entry.areaMarker);
      entries.delete(id);
    }
    markers.removeLayers(oldMarkers);
    areaMarkers.removeLayers(oldAreaMarkers);
  }

  function createEntry(feature) {
    const popup = () => buildPopup(feature, layer);
    const options = popupOptions(map);
    const entry = { feature, version: versionOf(feature), marker: null, shape: null, areaMarker: null };
    if (feature.geometry?.type === "Point") {
      const [lon, lat] = feature.geometry.coordinates;
      entry.marker = L.marker([lat, lon], markerOptions(layer, feature, "point")).bindPopup(popup, options);
      return entry;
    }
    entry.shape = L.geoJSON(feature, {
      style: () => pathStyle(layer),
      pointToLayer: (point, latlng) => L.marker(latlng, markerOptions(layer, feature, "point")),
    }).bindPopup(popup, options);
    const bounds = entry.shape.getBounds();
    if (bounds.isValid()) {
      entry.areaMarker = L.marker(bounds.getCenter(), markerOptions(layer, feature, "area")).bindPopup(popup, options);
    }
    return entry;
  }

  function showAreaMarkersWhenZoomedOut() {
    const wanted = map.getZoom() <= AREA_MARKER_MAX_ZOOM;
    if (wanted && !group.hasLayer(areaMarkers)) group.addLayer(areaMarkers);
    if (!wanted && group.hasLayer(areaMarkers)) group.removeLayer(areaMarkers);
  }
  map.on("zoomend", showAreaMarkersWhenZoomedOut);
  showAreaMarkersWhenZoomedOut();

  function open(id) {
    const entry = entries.get(String(id));
    if (!entry) return false;
    if (entry.marker) {
      markers.zoomToShowLayer(entry.marker, () => entry.marker.openPopup());
    } else {
      const bounds = entry.shape.getBounds();
      map.fitBounds(bounds, { maxZoom: 16, padding: [24, 24] });
      entry.shape.openPopup(bounds.getCenter());
    }
    return true;
  }

  return {
    id: layer.id,
    layer,
    show: () => group.addTo(map),
    hide: () => map.removeLayer(group),
    setFeatures,
    addFeatures,
    open,
    get size() {
      return entries.size;
    },
  };
}

// Editable layers carry a version; others are compared by their properties.
function versionOf(feature) {
  const props = feature.properties || {};
  return props.version ?? JSON.stringify(props);
}

export function featureName(feature) {
  const props = feature.properties || {};
  if (currentLang() === "en" && props.name_en) return String(props.name_en);
  return props.name ? String(props.name) : "";
}

function cssToken(id) {
  return String(id).replace(/[^A-Za-z0-9_-]/g, "_");
}

// Room a popup leaves free when the map pans to show it: the zoom and locate
// buttons on the left, the panel button at the top (44 px tall on touch
// screens), the credits and messages at the bottom.
const POPUP_CLEAR_TOP_LEFT = [64, 64];
const POPUP_CLEAR_BOTTOM_RIGHT = [16, 32];
// Around a popup's content: its margins and border, the tip under it, the
// tip's margin and the marker's popup anchor.
const POPUP_FRAME = { x: 36, y: 76 };
const POPUP_MIN_HEIGHT = 120;

// Narrow enough to fit beside the buttons on a phone.
function popupOptions(map) {
  const room = map.getSize().x - POPUP_CLEAR_TOP_LEFT[0] - POPUP_CLEAR_BOTTOM_RIGHT[0] - POPUP_FRAME.x;
  const width = Math.max(160, Math.min(320, room));
  return {
    maxWidth: width,
    minWidth: Math.min(220, width),
    autoPanPaddingTopLeft: POPUP_CLEAR_TOP_LEFT,
    autoPanPaddingBottomRight: POPUP_CLEAR_BOTTOM_RIGHT,
  };
}

// A popup taller than the room autoPan can give it would still be cut at the
// map's top: its content scrolls instead (popup.css reads the bound), and the
// bound follows the map's size (a phone turned, the panel shown or hidden).
export function boundPopupHeight(map) {
  const container = map.getContainer();
  const clear = POPUP_CLEAR_TOP_LEFT[1] + POPUP_CLEAR_BOTTOM_RIGHT[1] + POPUP_FRAME.y;
  const update = () => {
    const height = Math.max(POPUP_MIN_HEIGHT, map.getSize().y - clear);
    container.style.setProperty("--popup-max-height", `${height}px`);
  };
  map.on("resize", update);
  update();
}

function clusterGroup(layer, shape = "point") {
  return L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 48,
    spiderfyOnMaxZoom: true,
    iconCreateFunction: (cluster) => clusterIcon(layer, cluster.getChildCount(), shape),
  });
}

function markerOptions(layer, feature, shape) {
  return { icon: markerIcon(layer, shape), title: featureName(feature), keyboard: true, riseOnHover: true };
}

function markerIcon(layer, shape) {
  const dot = el("span", {
    class: `vung-marker-dot vung-marker-dot--${shape}`,
    style: { backgroundColor: layer.style?.fillColor, borderColor: layer.style?.color },
  });
  return L.divIcon({
    className: `vung-marker vung-marker--${cssToken(layer.id)}`,
    html: dot,
    iconSize: [24, 24],
    iconAnchor: [12, 12],
    popupAnchor: [0, -10],
  });
}

function clusterIcon(layer, count, shape) {
  const size = count < 10 ? 32 : count < 100 ? 38 : 46;
  const badge = el("span", {
    class: `vung-cluster-count vung-cluster-count--${shape}`,
    text: formatInteger(count),
    style: { backgroundColor: layer.style?.fillColor, borderColor: layer.style?.color },
  });
  return L.divIcon({
    className: `vung-cluster vung-cluster--${cssToken(layer.id)}`,
    html: badge,
    iconSize: L.point(size, size),
  });
}

function pathStyle(layer) {
  const style = layer.style || {};
  return {
    color: style.color,
    fillColor: style.fillColor,
    fillOpacity: style.fillOpacity ?? 0.35,
    weight: style.weight ?? 2,
    className: `vung-shape vung-shape--${cssToken(layer.id)}`,
  };
}
