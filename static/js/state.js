// The URL hash holds everything needed to reopen the same map:
//   #map=<zoom>/<lat>/<lon>&layers=<id>,<id>&q=<text>&<layer>.<field>=<value>
// Links of the form #z=<zoom>&lat=<lat>&lon=<lon> (as detail pages write
// them) are read too.
// A hash written by someone else is untrusted: values are checked against the
// page configuration before use.

const RESERVED = new Set(["map", "layers", "q", "z", "lat", "lon"]);

export function parseHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const view = params.has("map")
    ? parseView(params.get("map"))
    : parseView([params.get("z"), params.get("lat"), params.get("lon")].join("/"));
  const state = { view, layers: null, q: "", filters: {} };
  if (params.has("layers")) {
    state.layers = params.get("layers").split(",").filter(Boolean);
  }
  state.q = (params.get("q") || "").trim();
  for (const [key, value] of params) {
    if (RESERVED.has(key)) continue;
    const dot = key.indexOf(".");
    if (dot <= 0 || value === "") continue;
    const layerId = key.slice(0, dot);
    state.filters[layerId] ??= {};
    state.filters[layerId][key.slice(dot + 1)] = value;
  }
  return state;
}

function parseView(text) {
  if (!text) return null;
  const parts = text.split("/");
  if (parts.length !== 3 || parts.some((part) => part.trim() === "")) return null;
  const [zoom, lat, lon] = parts.map(Number);
  const valid =
    Number.isFinite(zoom) && zoom >= 0 && zoom <= 22 &&
    Number.isFinite(lat) && Math.abs(lat) <= 90 &&
    Number.isFinite(lon) && Math.abs(lon) <= 180;
  return valid ? { zoom, lat, lon } : null;
}

// "map=<zoom>/<lat>/<lon>", as precise as the zoom can show: the one way
// every page (map, editor, importer) writes a view into a link.
export function formatView({ zoom, lat, lon }) {
  const digits = Math.max(1, Math.ceil(Math.log10(2 ** zoom)));
  return `map=${zoom}/${lat.toFixed(digits)}/${lon.toFixed(digits)}`;
}

export function formatHash(state) {
  const parts = [];
  if (state.view) parts.push(formatView(state.view));
  parts.push(`layers=${[...state.layers].map(encodePart).join(",")}`);
  if (state.q) parts.push(`q=${encodePart(state.q)}`);
  for (const [layerId, fields] of Object.entries(state.filters)) {
    for (const [field, value] of Object.entries(fields)) {
      if (value !== "" && value !== null && value !== undefined) {
        parts.push(`${encodePart(layerId)}.${encodePart(field)}=${encodePart(value)}`);
      }
    }
  }
  return `#${parts.join("&")}`;
}

function encodePart(text) {
  return encodeURIComponent(text).replaceAll("%2C", ",");
}

// Keep only what the configuration knows about, so a tampered link cannot
// send unknown fields or values to the API.
export function sanitizeState(parsed, config) {
  const layersById = new Map(config.layers.map((layer) => [layer.id, layer]));
  const layers = parsed.layers === null
    ? config.layers.filter((layer) => layer.visible).map((layer) => layer.id)
    : parsed.layers.filter((id) => layersById.has(id));
  const filters = {};
  for (const [layerId, fields] of Object.entries(parsed.filters)) {
    const layer = layersById.get(layerId);
    if (!layer) continue;
    for (const [name, value] of Object.entries(fields)) {
      if (isAllowedFilter(layer, name, value, config)) {
        filters[layerId] ??= {};
        filters[layerId][name] = value;
      }
    }
  }
  return { view: parsed.view, layers: new Set(layers), q: parsed.q.slice(0, 200), filters };
}

function isAllowedFilter(layer, name, value, config) {
  const field = layer.fields.find((f) => f.name === name && f.filterable);
  if (!field) return false;
  if (name === "district") return (config.districts || []).some((d) => d.name === value);
  if (field.kind === "enum") return field.choices.some((choice) => choice.value === value);
  if (field.kind === "boolean") return value === "true" || value === "false";
  return value.length <= 200;
}

// The public map and the embeddable map ask the same of the items endpoint
// for a layer in view (the API's own maximum is 10 000; a view rarely needs more).
export const MAX_FEATURES = 5000;

export function layerItemsParams(state, layerId, bbox) {
  return { bbox, limit: MAX_FEATURES, q: state.q, ...state.filters[layerId] };
}

// The embeddable map reads the same description from its query
// (/embed?map=...&layers=...), or from its hash when there is one.
export function embeddedState(location) {
  const text = location.hash.length > 1 ? location.hash : location.search.replace(/^\?/, "");
  return parseHash(text);
}

// Addresses that reopen a state elsewhere: the full map, the embeddable map,
// and the standalone HTML file of the same layers and filters.
export function fullMapUrl(state, lang) {
  return `/?lang=${encodeURIComponent(lang)}${formatHash(state)}`;
}

export function embedUrl(origin, state, lang) {
  return `${origin}/embed?${formatHash(state).slice(1)}&lang=${encodeURIComponent(lang)}`;
}

// The chosen layers and their filters as /publish and /export take them:
// layers=a,b, plain q, layer.field=value, optionally the bbox in view.
function selectionParams(state, bbox) {
  const params = new URLSearchParams({ layers: [...state.layers].join(",") });
  if (state.q) params.set("q", state.q);
  for (const layerId of state.layers) {
    for (const [field, value] of Object.entries(state.filters[layerId] || {})) {
      if (value !== "" && value !== null && value !== undefined) params.set(`${layerId}.${field}`, value);
    }
  }
  if (bbox) params.set("bbox", bbox);
  return params;
}

export function publishUrl(origin, state, { lang, bbox = null } = {}) {
  const params = selectionParams(state, bbox);
  if (lang) params.set("lang", lang);
  return `${origin}/publish?${params}`;
}

// "Download what I see": the layers shown, their filters, the view's bounds.
export function exportUrl(state, { format, bbox, lang }) {
  const params = selectionParams(state, bbox);
  params.set("format", format);
  if (lang) params.set("lang", lang);
  return `/export?${params}`;
}
