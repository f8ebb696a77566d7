// The places closest to the visitor once "Find near me" has their position:
// among the layers of places (relics, craft villages) with the map's
// filters, the nearest few are listed over the map with their distances and
// framed with the position; a tap on one opens its popup. Far from every
// place, the list says so and the map shows where the visitor is against
// the province.

import { bboxParam, isAbort, searchLayers } from "./api.js";
import { clear, el } from "./dom.js";
import { formatDistance, t, tn } from "./i18n.js";
import { CLEAR_OF_CONTROLS, featureName, isAreaLayer } from "./layers.js";
import { layerItemsParams } from "./state.js";

const L = window.L;

// Near enough to go to by motorbike; the sample province is some 70 km across.
const RADIUS_M = 20000;
const LISTED = 5;
const FRAMED = 3;
// Clear of the credits at the bottom (the top left: of the map's buttons, as popups are).
const FRAME_BOTTOM_RIGHT = [24, 24];

// Layers of places a visitor goes to: points, or mostly points.
function placeLayers(config) {
  return config.layers.filter((layer) => !isAreaLayer(layer));
}

// `getState()` is the map's state (state.js); `onUseLayers(ids)` shows layers
// of places when none is shown; `onPick(hit)` opens a place as a search hit.
export function createNearbyList(map, config, { requests, getState, onUseLayers, onPick }) {
  const title = el("button", {
    type: "button",
    class: "nearby-title",
    id: "nearby-title",
    "aria-expanded": "true",
    "aria-controls": "nearby-body",
    text: t("near_title"),
    onclick: () => setFolded(title.getAttribute("aria-expanded") === "true"),
  });
  const close = el("button", {
    type: "button",
    class: "nearby-close",
    title: t("close"),
    "aria-label": t("close"),
    onclick: hide,
  }, el("span", { "aria-hidden": "true", text: "×" }));
  const summary = el("p", { class: "nearby-summary", role: "status" });
  const list = el("ol", { class: "nearby-list" });
  const body = el("div", { class: "nearby-body", id: "nearby-body" }, [summary, list]);
  const box = el("section", { class: "nearby", "aria-labelledby": "nearby-title", hidden: true }, [
    el("div", { class: "nearby-head" }, [title, close]),
    body,
  ]);
  L.DomEvent.disableClickPropagation(box);
  L.DomEvent.disableScrollPropagation(box);
  map.getContainer().append(box);

  async function show(position) {
    const layers = layersToSearch();
    const request = requests.start("nearby");
    const state = getState();
    const bbox = bboxParam(position.toBounds(2 * RADIUS_M));
    try {
      const hits = await searchLayers(config.apiBase, layers, (layer) => layerItemsParams(state, layer.id, bbox), request.signal);
      if (!requests.isCurrent("nearby", request)) return;
      const places = nearest(position, hits);
      render(places);
      frame(position, places);
    } catch (error) {
      if (isAbort(error) || !requests.isCurrent("nearby", request)) return;
      render(null);
      map.setView(position, Math.max(map.getZoom(), 14));
    } finally {
      requests.finish("nearby", request);
    }
  }

  // The layers of places shown; when none is, all of them, shown from now on.
  function layersToSearch() {
    const places = placeLayers(config);
    const shown = places.filter((layer) => getState().layers.has(layer.id));
    if (shown.length) return shown;
    onUseLayers(places.map((layer) => layer.id));
    return places;
  }

  function render(places) {
    clear(list);
    const distance = formatDistance(RADIUS_M);
    if (places === null) summary.textContent = t("near_error");
    else if (!places.length) summary.textContent = t("near_none", { distance });
    else summary.textContent = tn("near_count", places.length, { distance });
    for (const place of places || []) list.append(placeItem(place));
    box.hidden = false;
    setFolded(false);
  }

  function placeItem(place) {
    const button = el("button", { type: "button", class: "nearby-place", onclick: () => pick(place) }, [
      el("span", { class: "nearby-name", text: featureName(place.feature) || "—" }),
      el("span", { class: "nearby-distance", text: formatDistance(place.distance) }),
      el("span", { class: "nearby-meta", text: place.layer.title }),
    ]);
    return el("li", { dataset: { distance: String(Math.round(place.distance)) } }, button);
  }

  // The popup needs the room the list takes: the list folds to its title.
  function pick(place) {
    setFolded(true);
    onPick({ layer: place.layer, feature: place.feature });
  }

  function setFolded(folded) {
    title.setAttribute("aria-expanded", String(!folded));
    body.hidden = folded;
  }

  function hide() {
    requests.cancel("nearby");
    box.hidden = true;
  }

  // The position and the nearest places above the list; far from every
  // place, the position and the province.
  function frame(position, places) {
    const bounds = L.latLngBounds([position]);
    if (places.length) for (const place of places.slice(0, FRAMED)) bounds.extend(place.latlng);
    else if (config.bounds) bounds.extend(L.latLngBounds(config.bounds));
    const underList = map.getSize().y - box.offsetTop;
    map.fitBounds(bounds, {
      paddingTopLeft: CLEAR_OF_CONTROLS,
      paddingBottomRight: [FRAME_BOTTOM_RIGHT[0], FRAME_BOTTOM_RIGHT[1] + underList],
      maxZoom: 16,
    });
  }

  return { show, hide };
}

function nearest(position, hits) {
  return hits
    .map((hit) => {
      const latlng = placeOf(hit.feature);
      return latlng && { ...hit, latlng, distance: position.distanceTo(latlng) };
    })
    .filter((place) => place && place.distance <= RADIUS_M)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, LISTED);
}

function placeOf(feature) {
  const geometry = feature.geometry;
  if (!geometry) return null;
  if (geometry.type === "Point") return L.latLng(geometry.coordinates[1], geometry.coordinates[0]);
  const bounds = L.geoJSON(feature).getBounds();
  return bounds.isValid() ? bounds.getCenter() : null;
}
