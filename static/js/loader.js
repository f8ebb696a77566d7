// What the public map (map.js) and the embeddable map (embed.js) share:
// starting the map, and loading the public layers onto it: the features of
// each layer the state shows, in and just around the view, with the state's
// filters; one request per layer in flight; a message over the map when a
// layer fails or is cut short.

import { bboxParam, fetchItems, isAbort } from "./api.js";
import { addReferenceOutlines, createBaseMap } from "./basemap.js";
import { debounce, readConfig } from "./dom.js";
import { initI18n, t } from "./i18n.js";
import { boundPopupHeight } from "./layers.js";
import { createRequests } from "./requests.js";
import { MAX_FEATURES, layerItemsParams } from "./state.js";

const RELOAD_DELAY_MS = 250;
const MESSAGE_MS = 6000;

// The page's configuration and language, the base map in #map with the
// province's outlines, the page's requests and the messages over the map.
export function startPublicMap(doc) {
  const config = readConfig(doc);
  initI18n(config, doc);
  const mapElement = doc.getElementById("map");
  const map = createBaseMap(mapElement, config);
  boundPopupHeight(map);
  addReferenceOutlines(map, config);
  // Tests and styles read the number of requests in flight from here.
  const showPending = (count) => {
    mapElement.dataset.pending = String(count);
  };
  const requests = createRequests(showPending);
  showPending(0);
  return { config, map, requests, status: createStatus(doc.getElementById("map-status")) };
}

// Messages shown over the map, one per source (a layer, the locator...).
function createStatus(element) {
  const messages = new Map();
  const timers = new Map();

  function set(key, text, { transient = false } = {}) {
    clearTimeout(timers.get(key));
    if (text) messages.set(key, text);
    else messages.delete(key);
    if (text && transient) timers.set(key, setTimeout(() => set(key, null), MESSAGE_MS));
    element.textContent = [...messages.values()].join(" ");
  }

  return { set };
}

// `views` (layers.js) are the layers it may load, `getState()` the current
// state (state.js); onBusy and onLoaded let a panel follow each layer.
export function createLayerLoader(map, config, views, { requests, status, getState, onBusy = () => {}, onLoaded = () => {} }) {
  async function reloadLayer(view) {
    const key = `layer:${view.id}`;
    if (!getState().layers.has(view.id)) {
      requests.cancel(key);
      view.hide();
      onBusy(view.id, false);
      status.set(view.id, null);
      return;
    }
    view.show();
    const request = requests.start(key);
    onBusy(view.id, true);
    const params = layerItemsParams(getState(), view.id, bboxParam(map.getBounds().pad(0.1)));
    try {
      const collection = await fetchItems(config.apiBase, view.id, params, request.signal);
      if (requests.isCurrent(key, request)) showLoaded(view, collection.features || []);
    } catch (error) {
      if (!isAbort(error)) status.set(view.id, t("load_error", { layer: view.layer.title }));
    } finally {
      if (requests.isCurrent(key, request)) onBusy(view.id, false);
      requests.finish(key, request);
    }
  }

  function showLoaded(view, features) {
    view.setFeatures(features);
    const truncated = features.length >= MAX_FEATURES;
    onLoaded(view.id, features.length, truncated);
    status.set(view.id, truncated ? t("too_many", { n: MAX_FEATURES }) : null);
  }

  function reloadAll() {
    for (const view of views) reloadLayer(view);
  }

  return { reloadLayer, reloadAll, reloadLater: debounce(reloadAll, RELOAD_DELAY_MS) };
}
