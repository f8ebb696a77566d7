// Entry module of the embeddable map (/embed): the public map's layers and
// popups without its panels, for an <iframe> on another website. What it
// shows comes from its URL, in the public map's hash format, given as the
// query (/embed?map=12/20.4/106.2&layers=relics&relics.rank=national) or
// the hash; a link opens the same view on the full map.

import { bboxParam, fetchItems, isAbort } from "./api.js";
import { addReferenceOutlines, createBaseMap, setInitialView } from "./basemap.js";
import { debounce, el } from "./dom.js";
import { initI18n, t } from "./i18n.js";
import { createLayerView } from "./layers.js";
import { createRequests } from "./requests.js";
import { MAX_FEATURES, embeddedState, fullMapUrl, layerItemsParams, sanitizeState } from "./state.js";

const L = window.L;

const RELOAD_DELAY_MS = 250;

function readConfig(doc) {
  return JSON.parse(doc.getElementById("vung-config").textContent);
}

function currentView(map) {
  const center = map.getCenter();
  return { zoom: map.getZoom(), lat: center.lat, lon: center.lng };
}

function addFullMapLink(map) {
  const link = el("a", { class: "embed-full-map", target: "_blank", rel: "noopener", text: t("open_full_map") });
  const control = L.control({ position: "topright" });
  control.onAdd = () => {
    const box = el("div", { class: "leaflet-control" }, [link]);
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  control.addTo(map);
  return link;
}

function startEmbed(doc) {
  const config = readConfig(doc);
  initI18n(config, doc);
  const mapElement = doc.getElementById("map");
  const statusElement = doc.getElementById("map-status");
  const map = createBaseMap(mapElement, config);
  addReferenceOutlines(map, config);
  const state = sanitizeState(embeddedState(window.location), config);
  const views = config.layers.filter((layer) => state.layers.has(layer.id)).map((layer) => createLayerView(map, layer));
  const requests = createRequests((count) => {
    mapElement.dataset.pending = String(count);
  });
  mapElement.dataset.pending = "0";
  const messages = new Map();
  const fullMap = addFullMapLink(map);

  function setStatus(key, text) {
    if (text) messages.set(key, text);
    else messages.delete(key);
    statusElement.textContent = [...messages.values()].join(" ");
  }

  async function reloadLayer(view) {
    const key = `layer:${view.id}`;
    const request = requests.start(key);
    const params = layerItemsParams(state, view.id, bboxParam(map.getBounds().pad(0.1)));
    try {
      const collection = await fetchItems(config.apiBase, view.id, params, request.signal);
      if (!requests.isCurrent(key, request)) return;
      const features = collection.features || [];
      view.setFeatures(features);
      setStatus(view.id, features.length >= MAX_FEATURES ? t("too_many", { n: MAX_FEATURES }) : null);
    } catch (error) {
      if (!isAbort(error)) setStatus(view.id, t("load_error", { layer: view.layer.title }));
    } finally {
      requests.finish(key, request);
    }
  }

  function reloadAll() {
    for (const view of views) reloadLayer(view);
  }

  function updateFullMapLink() {
    fullMap.href = fullMapUrl({ ...state, view: currentView(map) }, config.lang);
  }

  const reloadLater = debounce(reloadAll, RELOAD_DELAY_MS);

  setInitialView(map, state.view, config);
  for (const view of views) view.show();
  updateFullMapLink();
  reloadAll();
  map.on("moveend", () => {
    updateFullMapLink();
    reloadLater();
  });
}

startEmbed(document);
