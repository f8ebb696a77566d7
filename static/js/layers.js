// One view per configured layer: polygons go into a plain group of the
// layer's own; the markers of points (and of areas seen from afar) go into the
// map's one marker cluster, shared by every layer, so that places close
// together on screen are clustered or spread whatever their layer, and no
// layer's cluster hides another's markers. Features are diffed by id on each
// reload so that unchanged features (and an open popup) survive panning.

import { el } from "./dom.js";
import { currentLang, formatInteger } from "./i18n.js";
import { buildPopup } from "./popup.js";

const L = window.L;

// Zoomed out this far, a zone of a few hectares is a speck: each area also
// gets a marker (clustered like points) so that it can be seen and tapped.
const AREA_MARKER_MAX_ZOOM = 12;

// The one cluster group of a map, for the markers of all its layers.
export function createMarkerClusters(map) {
  return L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 48,
    spiderfyOnMaxZoom: true,
    iconCreateFunction: clusterIcon,
  }).addTo(map);
}

export function createLayerView(map, layer, clusters) {
  const shapes = L.featureGroup();
  const entries = new Map();
  let shown = false;
  let areaMarkersShown = false;

  const areaMarkersWanted = () => map.getZoom() <= AREA_MARKER_MAX_ZOOM;

  // The markers of these entries that belong in the clusters now.
  function clusteredMarkers(list, withAreas = areaMarkersShown) {
    const found = [];
    for (const entry of list) {
      if (entry.marker) found.push(entry.marker);
      if (entry.areaMarker && withAreas) found.push(entry.areaMarker);
    }
    return found;
  }

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
    const created = [];
    for (const feature of fresh) {
      const entry = createEntry(feature);
      entries.set(String(feature.id), entry);
      created.push(entry);
      if (entry.shape) shapes.addLayer(entry.shape);
    }
    if (shown) clusters.addLayers(clusteredMarkers(created));
  }

  function removeEntries(ids) {
    const old = [];
    for (const id of ids) {
      const entry = entries.get(id);
      if (entry.shape) shapes.removeLayer(entry.shape);
      old.push(entry);
      entries.delete(id);
    }
    removeClustered(clusteredMarkers(old, true));
  }

  function removeClustered(markers) {
    const present = markers.filter((marker) => clusters.hasLayer(marker));
    if (present.length) clusters.removeLayers(present);
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
    const wanted = shown && areaMarkersWanted();
    if (wanted === areaMarkersShown) return;
    areaMarkersShown = wanted;
    const areaMarkers = [...entries.values()].filter((entry) => entry.areaMarker).map((entry) => entry.areaMarker);
    if (wanted) clusters.addLayers(areaMarkers);
    else removeClustered(areaMarkers);
  }
  map.on("zoomend", showAreaMarkersWhenZoomedOut);

  // Shown again (a layer ticked back on), the layer's markers rejoin the clusters.
  function show() {
    if (shown) return;
    shown = true;
    map.addLayer(shapes);
    areaMarkersShown = areaMarkersWanted();
    clusters.addLayers(clusteredMarkers(entries.values()));
  }

  function hide() {
    if (!shown) return;
    shown = false;
    map.removeLayer(shapes);
    removeClustered(clusteredMarkers(entries.values(), true));
    areaMarkersShown = false;
  }

  function open(id) {
    const entry = entries.get(String(id));
    if (!entry) return false;
    if (entry.marker) {
      // Out of a cluster first: zoomed in to it, or spread from it.
      clusters.zoomToShowLayer(entry.marker, () => entry.marker.openPopup());
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
    show,
    hide,
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
export const CLEAR_OF_CONTROLS = [64, 64];
const POPUP_CLEAR_BOTTOM_RIGHT = [16, 32];
// Around a popup's content: its margins and border, the tip under it, the
// tip's margin and the marker's popup anchor.
const POPUP_FRAME = { x: 36, y: 76 };
const POPUP_MIN_HEIGHT = 120;

// Narrow enough to fit beside the buttons on a phone.
function popupOptions(map) {
  const room = map.getSize().x - CLEAR_OF_CONTROLS[0] - POPUP_CLEAR_BOTTOM_RIGHT[0] - POPUP_FRAME.x;
  const width = Math.max(160, Math.min(320, room));
  return {
    maxWidth: width,
    minWidth: Math.min(220, width),
    autoPanPaddingTopLeft: CLEAR_OF_CONTROLS,
    autoPanPaddingBottomRight: POPUP_CLEAR_BOTTOM_RIGHT,
  };
}

// A popup taller than the room autoPan can give it would still be cut at the
// map's top: its content scrolls instead (popup.css reads the bound), and the
// bound follows the map's size (a phone turned, the panel shown or hidden).
export function boundPopupHeight(map) {
  const container = map.getContainer();
  const clear = CLEAR_OF_CONTROLS[1] + POPUP_CLEAR_BOTTOM_RIGHT[1] + POPUP_FRAME.y;
  const update = () => {
    const height = Math.max(POPUP_MIN_HEIGHT, map.getSize().y - clear);
    container.style.setProperty("--popup-max-height", `${height}px`);
  };
  map.on("resize", update);
  update();
}

// The cluster icons read each marker's layer and shape from its options.
function markerOptions(layer, feature, shape) {
  return {
    icon: markerIcon(layer, shape),
    title: featureName(feature),
    keyboard: true,
    riseOnHover: true,
    vungLayer: layer,
    vungShape: shape,
  };
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

// A cluster takes the colours of the layer most of its places belong to; a
// cluster of several layers gets a ring shared out between their colours. It
// is round when it holds a point, square when only areas. Its classes name
// every layer it holds and data-counts how many places of each (tests read it).
function clusterIcon(cluster) {
  const byLayer = new Map();
  let areasOnly = true;
  for (const marker of cluster.getAllChildMarkers()) {
    const { vungLayer: layer, vungShape: shape } = marker.options;
    if (!layer) continue;
    const part = byLayer.get(layer.id) ?? { layer, count: 0 };
    part.count += 1;
    byLayer.set(layer.id, part);
    if (shape !== "area") areasOnly = false;
  }
  const parts = [...byLayer.values()].sort((a, b) => b.count - a.count || a.layer.id.localeCompare(b.layer.id));
  const count = cluster.getChildCount();
  const size = count < 10 ? 32 : count < 100 ? 38 : 46;
  const shape = areasOnly ? "area" : "point";
  const main = parts[0]?.layer.style || {};
  const mixed = parts.length > 1;
  const style = mixed
    ? { background: `linear-gradient(${main.fillColor}, ${main.fillColor}) padding-box, ${mixRing(parts, count)} border-box` }
    : { backgroundColor: main.fillColor, borderColor: main.color };
  const badge = el("span", {
    class: `vung-cluster-count vung-cluster-count--${shape}${mixed ? " vung-cluster-count--mixed" : ""}`,
    text: formatInteger(count),
    title: parts.map((part) => `${part.layer.title}: ${formatInteger(part.count)}`).join(" · "),
    dataset: { counts: JSON.stringify(Object.fromEntries(parts.map((part) => [part.layer.id, part.count]))) },
    style,
  });
  const classes = parts.map((part) => `vung-cluster--${cssToken(part.layer.id)}`);
  return L.divIcon({
    className: `vung-cluster ${classes.join(" ")}`,
    html: badge,
    iconSize: L.point(size, size),
  });
}

// Each layer's share of the cluster, as arcs of its colour.
function mixRing(parts, total) {
  let from = 0;
  const stops = parts.map((part) => {
    const to = from + (360 * part.count) / total;
    const stop = `${part.layer.style?.fillColor} ${from}deg ${to}deg`;
    from = to;
    return stop;
  });
  return `conic-gradient(${stops.join(", ")})`;
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

// Layers of mixed geometry (craft villages) are mostly points.
export function isAreaLayer(layer) {
  return layer.geometry === "Polygon" || layer.geometry === "MultiPolygon";
}
