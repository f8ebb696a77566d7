// Entry module of the public map page.

import { bboxParam, isAbort, searchLayers } from "./api.js";
import { setInitialView } from "./basemap.js";
import { escapeHtml } from "./dom.js";
import { buildLayerList } from "./filters.js";
import { t, updateLanguageLinks } from "./i18n.js";
import { createLayerView, createMarkerClusters } from "./layers.js";
import { createLayerLoader, startPublicMap } from "./loader.js";
import { addLocateControl } from "./locate.js";
import { createNearbyList } from "./nearby.js";
import { createSearchBox } from "./search.js";
import { embedUrl, exportUrl, formatHash, fullMapUrl, parseHash, publishUrl, sanitizeState } from "./state.js";

const L = window.L;

const SEARCH_LIMIT = 20;
// Phones upright or on their side; as map.css has it.
const SMALL_SCREEN = "(max-width: 720px), (max-height: 500px)";
const EMBED_HEIGHT = 450;

function makeAttributionFoldable(map) {
  const container = map.attributionControl.getContainer();
  container.classList.add("attribution-foldable");
  const small = window.matchMedia(SMALL_SCREEN);
  container.addEventListener("click", (event) => {
    if (!small.matches) return;
    if (event.target.closest("a") && container.classList.contains("is-unfolded")) return;
    event.preventDefault();
    container.classList.toggle("is-unfolded");
  });
}

// Leaflet labels the close button in English only.
function translatePopupClose(popup) {
  const button = popup.getElement()?.querySelector(".leaflet-popup-close-button");
  if (!button) return;
  button.setAttribute("aria-label", t("close"));
  button.setAttribute("title", t("close"));
}

// The page's address names its language, whether it came from the address
// or from the visitor's cookie: the address, shared as it is, then opens
// the same page for anyone.
function addressWithLang(lang) {
  const params = new URLSearchParams(window.location.search);
  params.set("lang", lang);
  return `${window.location.pathname}?${params}`;
}

function currentView(map) {
  const center = map.getCenter();
  return { zoom: map.getZoom(), lat: center.lat, lon: center.lng };
}

function setupPanelToggle(doc, map) {
  const layout = doc.getElementById("map-layout");
  const button = doc.getElementById("panel-toggle");
  const label = button.querySelector(".panel-toggle-label");
  const small = window.matchMedia(SMALL_SCREEN);

  function setOpen(open) {
    layout.classList.toggle("panel-collapsed", !open);
    button.setAttribute("aria-expanded", String(open));
    label.textContent = open ? t("hide_panel") : t("show_panel");
    map.invalidateSize();
  }
  button.addEventListener("click", () => setOpen(layout.classList.contains("panel-collapsed")));
  setOpen(!small.matches);
  return { closeOnSmallScreen: () => small.matches && setOpen(false) };
}

// "Share / embed" in the panel: a link to this view, the <iframe> code that
// shows it on another website, and the standalone HTML file of the same
// layers and filters.
function createShareBox(doc, config) {
  const link = doc.getElementById("share-link");
  const code = doc.getElementById("share-embed");
  const inView = doc.getElementById("share-in-view");
  const download = doc.getElementById("share-publish");
  const copied = doc.getElementById("share-copied");
  const origin = window.location.origin;
  let last = null;

  function update(state, bounds) {
    last = { state, bounds };
    copied.textContent = "";
    link.value = `${origin}${fullMapUrl(state, config.lang)}`;
    const src = embedUrl(origin, state, config.lang);
    code.value =
      `<iframe src="${escapeHtml(src)}" title="${escapeHtml(t("embed_title"))}" ` +
      `width="100%" height="${EMBED_HEIGHT}" style="border:0" loading="lazy"></iframe>`;
    if (state.layers.size) {
      const bbox = inView.checked ? bboxParam(bounds) : null;
      download.href = publishUrl("", state, { lang: config.lang, bbox });
      download.removeAttribute("aria-disabled");
    } else {
      download.removeAttribute("href");
      download.setAttribute("aria-disabled", "true");
    }
  }

  async function copyCode() {
    code.select();
    try {
      await navigator.clipboard.writeText(code.value);
    } catch {
      doc.execCommand("copy"); // pages served over plain HTTP have no clipboard API
    }
    copied.textContent = t("copied");
  }

  inView.addEventListener("change", () => last && update(last.state, last.bounds));
  doc.getElementById("share-copy").addEventListener("click", copyCode);
  return { update };
}

// "Download what I see": the layers shown, with their filters, inside the
// current view, in the chosen format (several layers need a GeoPackage or Shapefile).
function createDownloadBox(doc, config) {
  const format = doc.getElementById("download-format");
  const link = doc.getElementById("download-link");
  const note = doc.getElementById("download-note");
  let last = null;

  function update(state, bounds) {
    last = { state, bounds };
    const several = state.layers.size > 1;
    for (const option of format.options) option.disabled = several && option.dataset.multi !== "yes";
    if (format.selectedOptions[0]?.disabled) format.value = "gpkg";
    note.hidden = !several;
    if (state.layers.size) {
      link.href = exportUrl(state, { format: format.value, bbox: bboxParam(bounds), lang: config.lang });
      link.removeAttribute("aria-disabled");
    } else {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    }
  }

  format.addEventListener("change", () => last && update(last.state, last.bounds));
  return { update };
}

function hitBounds(hits) {
  return L.featureGroup(hits.map((hit) => L.geoJSON(hit.feature))).getBounds();
}

function startMap(doc) {
  const { config, map, requests, status } = startPublicMap(doc);
  makeAttributionFoldable(map);
  const clusters = createMarkerClusters(map);
  const views = new Map(config.layers.map((layer) => [layer.id, createLayerView(map, layer, clusters)]));
  let state = sanitizeState(parseHash(window.location.hash), config);

  const panel = buildLayerList(doc.getElementById("layer-list"), config, {
    onToggle: setLayerActive,
    onFilter: setFilter,
  });
  const search = createSearchBox(doc, { onQuery: setQuery, onPick: showHit });
  const panelToggle = setupPanelToggle(doc, map);
  const share = createShareBox(doc, config);
  const download = createDownloadBox(doc, config);
  const { reloadLayer, reloadAll, reloadLater } = createLayerLoader(map, config, [...views.values()], {
    requests,
    status,
    getState: () => state,
    onBusy: panel.setBusy,
    onLoaded: panel.setCount,
  });
  const nearby = createNearbyList(map, config, {
    requests,
    getState: () => state,
    onUseLayers: showLayers,
    onPick: showHit,
  });
  addLocateControl(map, {
    onStatus: (text, options) => status.set("locate", text, options),
    onFound: (latlng) => nearby.show(latlng),
  });

  function writeHash() {
    state.view = currentView(map);
    const hash = formatHash(state);
    window.history.replaceState(null, "", `${addressWithLang(config.lang)}${hash}`);
    updateLanguageLinks(doc, { hash });
    share.update(state, map.getBounds());
    download.update(state, map.getBounds());
  }

  async function runSearch({ fit }) {
    if (!state.q) {
      requests.cancel("search");
      search.hide();
      return;
    }
    const request = requests.start("search");
    const layers = config.layers.filter((layer) => layer.searchable !== false);
    const paramsFor = (layer) => ({ q: state.q, limit: SEARCH_LIMIT, ...state.filters[layer.id] });
    try {
      const hits = await searchLayers(config.apiBase, layers, paramsFor, request.signal);
      if (!requests.isCurrent("search", request)) return;
      // Hits on layers being shown come first: they are the ones on the map.
      hits.sort((a, b) => Number(state.layers.has(b.layer.id)) - Number(state.layers.has(a.layer.id)));
      search.showHits(state.q, hits);
      if (fit) fitToHits(hits);
    } catch (error) {
      if (!isAbort(error) && requests.isCurrent("search", request)) search.showError();
    } finally {
      requests.finish("search", request);
    }
  }

  // Tourists search by name for places anywhere in the province: when none
  // of the hits on the map is in view, go to them.
  function fitToHits(hits) {
    const shown = hits.filter((hit) => state.layers.has(hit.layer.id));
    if (!shown.length) return;
    const bounds = hitBounds(shown);
    if (!bounds.isValid() || map.getBounds().intersects(bounds)) return;
    map.fitBounds(bounds, { maxZoom: 15, padding: [32, 32] });
  }

  function setLayerActive(layerId, active) {
    if (active) state.layers.add(layerId);
    else state.layers.delete(layerId);
    panel.sync(state);
    writeHash();
    reloadLayer(views.get(layerId));
  }

  function showLayers(layerIds) {
    const added = layerIds.filter((layerId) => !state.layers.has(layerId));
    for (const layerId of added) state.layers.add(layerId);
    panel.sync(state);
    writeHash();
    // Near me moves the map right after: one reload then, not one now and another on moveend.
    if (added.length) reloadLater();
  }

  function setFilter(layerId, field, value) {
    state.filters[layerId] ??= {};
    if (value) state.filters[layerId][field] = value;
    else delete state.filters[layerId][field];
    panel.sync(state);
    writeHash();
    reloadLayer(views.get(layerId));
    runSearch({ fit: false });
  }

  function setQuery(q) {
    state.q = q.slice(0, 200);
    writeHash();
    reloadAll();
    runSearch({ fit: true });
  }

  function clearFilters() {
    state.filters = {};
    state.q = "";
    search.setQuery("");
    panel.sync(state);
    writeHash();
    reloadAll();
    runSearch({ fit: false });
  }

  function showHit(hit) {
    const view = views.get(hit.layer.id);
    if (!state.layers.has(hit.layer.id)) {
      state.layers.add(hit.layer.id);
      panel.sync(state);
      view.show();
    }
    view.addFeatures([hit.feature]);
    panelToggle.closeOnSmallScreen();
    view.open(hit.feature.id);
    writeHash();
  }

  // Someone edited the address bar or followed a link within the page.
  function applyHash() {
    state = sanitizeState(parseHash(window.location.hash), config);
    if (state.view) map.setView([state.view.lat, state.view.lon], state.view.zoom);
    search.setQuery(state.q);
    panel.sync(state);
    reloadAll();
    runSearch({ fit: !state.view });
  }

  doc.getElementById("clear-filters").addEventListener("click", clearFilters);
  setInitialView(map, state.view, config);
  panel.sync(state);
  search.setQuery(state.q);
  writeHash();
  reloadAll();
  runSearch({ fit: !state.view });
  map.on("popupopen", (event) => translatePopupClose(event.popup));
  map.on("moveend", () => {
    writeHash();
    reloadLater();
  });
  window.addEventListener("hashchange", applyHash);
}

startMap(document);
