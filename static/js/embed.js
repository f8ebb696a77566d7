// Entry module of the embeddable map (/embed): the public map's layers and
// popups without its panels, for an <iframe> on another website. What it
// shows comes from its URL, in the public map's hash format, given as the
// query (/embed?map=12/20.4/106.2&layers=relics&relics.rank=national) or
// the hash; a link opens the same view on the full map.

import { setInitialView } from "./basemap.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { createLayerView, createMarkerClusters } from "./layers.js";
import { createLayerLoader, startPublicMap } from "./loader.js";
import { embeddedState, fullMapUrl, sanitizeState } from "./state.js";

const L = window.L;

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
  const { config, map, requests, status } = startPublicMap(doc);
  const state = sanitizeState(embeddedState(window.location), config);
  const clusters = createMarkerClusters(map);
  const views = config.layers
    .filter((layer) => state.layers.has(layer.id))
    .map((layer) => createLayerView(map, layer, clusters));
  const { reloadAll, reloadLater } = createLayerLoader(map, config, views, { requests, status, getState: () => state });
  const fullMap = addFullMapLink(map);

  function updateFullMapLink() {
    fullMap.href = fullMapUrl({ ...state, view: currentView(map) }, config.lang);
  }

  setInitialView(map, state.view, config);
  updateFullMapLink();
  reloadAll();
  map.on("moveend", () => {
    updateFullMapLink();
    reloadLater();
  });
}

startEmbed(document);
