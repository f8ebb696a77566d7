// What every map page shares: base map (or none), attribution, district
// outlines, and the opening view.

import { fetchItems } from "./api.js";
import { escapeHtml } from "./dom.js";
import { t } from "./i18n.js";

const L = window.L;

export function createBaseMap(container, config, { zoomPosition = "topleft" } = {}) {
  const map = L.map(container, {
    zoomControl: false,
    maxZoom: config.tiles?.maxZoom || 19,
    minZoom: 3,
  });
  L.control.zoom({ position: zoomPosition, zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out") }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  if (config.tiles?.url) {
    L.tileLayer(config.tiles.url, {
      attribution: escapeHtml(config.tiles.attribution || ""),
      maxZoom: config.tiles.maxZoom || 19,
    }).addTo(map);
  }
  for (const line of config.attribution || []) {
    map.attributionControl.addAttribution(escapeHtml(line));
  }
  return map;
}

// Outlines only: Geoman must neither edit them nor snap to them.
const IGNORED = { pmIgnore: true, snapIgnore: true, interactive: false };

// The editor shows where the server accepts shapes.
export function showWorkingArea(map, area) {
  if (!Array.isArray(area) || area.length !== 2) return;
  const bounds = L.latLngBounds(area);
  if (!bounds.isValid()) return;
  L.rectangle(bounds, {
    ...IGNORED,
    className: "edit-working-area",
    color: "#7f5539",
    weight: 1,
    dashArray: "6 6",
    fill: false,
  }).addTo(map);
  map.setMaxBounds(bounds.pad(0.5));
}

export async function addReferenceOutlines(map, config) {
  const reference = config.reference;
  if (!reference) return;
  const pane = map.createPane("reference");
  pane.style.zIndex = "350";
  pane.style.pointerEvents = "none";
  try {
    const collection = await fetchItems(config.apiBase, reference.layer, reference.params);
    L.geoJSON(collection, { ...IGNORED, pane, style: reference.style }).addTo(map);
  } catch {
    // Outlines are a courtesy: the map works without them.
  }
}

// Room left around the working area when a small map opens on all of it.
const OPENING_PADDING = 8;

export function setInitialView(map, view, config) {
  if (view) map.setView([view.lat, view.lon], view.zoom);
  else if (config.view) map.setView(config.view.center, openingZoom(map, config));
  else if (config.bounds) map.fitBounds(config.bounds, { padding: [OPENING_PADDING, OPENING_PADDING] });
  else map.setView([0, 0], 3);
}

// The configured zoom, or less where the map is too small (a phone) to show
// the whole working area, which holds every feature, at that zoom.
function openingZoom(map, config) {
  if (!config.bounds) return config.view.zoom;
  const padding = L.point(2 * OPENING_PADDING, 2 * OPENING_PADDING);
  return Math.min(config.view.zoom, map.getBoundsZoom(config.bounds, false, padding));
}
