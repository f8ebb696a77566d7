// The chosen layer's features in view, drawn under the one being edited:
// clickable to select, offered to Geoman for snapping, never edited in place.

import { clear, el } from "../dom.js";
import { formatInteger, t } from "../i18n.js";

const L = window.L;

const LIST_LIMIT = 300;

// mayEdit(feature): false for features outside the officer's districts;
// those stay on the map to snap to, greyed out, but cannot be selected.
export function createBackground(map, { onPick, isBusy, mayEdit = () => true }) {
  const group = L.featureGroup([], { pmIgnore: true }).addTo(map);
  const entries = new Map();
  let layer = null;
  let hiddenId = null;

  function setLayer(next) {
    layer = next;
    group.clearLayers();
    entries.clear();
    hiddenId = null;
  }

  function setFeatures(features) {
    group.clearLayers();
    entries.clear();
    for (const feature of features) add(feature);
  }

  function add(feature) {
    const id = String(feature.id);
    const editable = mayEdit(feature);
    const shape = L.geoJSON(feature, {
      pmIgnore: true,
      snapIgnore: false,
      interactive: editable,
      style: () => backgroundStyle(layer, editable),
      pointToLayer: (point, latlng) =>
        L.marker(latlng, {
          pmIgnore: true,
          snapIgnore: false,
          interactive: editable,
          icon: pointIcon(layer, editable),
          title: featureLabel(feature),
          keyboard: editable,
        }),
    });
    if (editable) {
      shape.on("click", (event) => {
        if (isBusy()) return;
        L.DomEvent.stop(event);
        onPick(feature.id);
      });
    }
    entries.set(id, { feature, shape, editable });
    if (id !== hiddenId) group.addLayer(shape);
  }

  function upsert(feature) {
    remove(feature.id);
    add(feature);
  }

  function remove(id) {
    const entry = entries.get(String(id));
    if (!entry) return;
    group.removeLayer(entry.shape);
    entries.delete(String(id));
  }

  // The feature being edited is drawn by the editor instead.
  function hide(id) {
    const shown = hiddenId === null ? null : entries.get(hiddenId);
    if (shown) group.addLayer(shown.shape);
    hiddenId = id === null || id === undefined ? null : String(id);
    const hidden = hiddenId === null ? null : entries.get(hiddenId);
    if (hidden) group.removeLayer(hidden.shape);
  }

  function highlight(ids) {
    const wanted = new Set((ids || []).map(String));
    for (const [id, entry] of entries) {
      entry.shape.eachLayer((part) => {
        const element = part.getElement?.();
        element?.classList.toggle("is-flagged", wanted.has(id));
      });
    }
  }

  function get(id) {
    return entries.get(String(id))?.feature ?? null;
  }

  function features({ editable = false } = {}) {
    return [...entries.values()].filter((entry) => !editable || entry.editable).map((entry) => entry.feature);
  }

  return { setLayer, setFeatures, upsert, remove, hide, highlight, get, features };
}

export function featureLabel(feature) {
  const name = feature?.properties?.name;
  return name === null || name === undefined || name === "" ? t("untitled") : String(name);
}

const LOCKED = { color: "#7b8794", fillColor: "#cbd2d9" };

function backgroundStyle(layer, editable) {
  const style = editable ? layer?.style || {} : LOCKED;
  return {
    color: style.color,
    fillColor: style.fillColor,
    fillOpacity: layer?.style?.fillOpacity ?? 0.3,
    weight: layer?.style?.weight ?? 2,
    className: `vung-shape vung-shape--${cssToken(layer?.id)} edit-background-shape${editable ? "" : " is-locked"}`,
  };
}

function pointIcon(layer, editable) {
  const style = editable ? layer?.style || {} : LOCKED;
  const dot = el("span", {
    class: "vung-marker-dot vung-marker-dot--point",
    style: { backgroundColor: style.fillColor, borderColor: style.color },
  });
  return L.divIcon({
    className: `vung-marker vung-marker--${cssToken(layer?.id)} edit-background-marker${editable ? "" : " is-locked"}`,
    html: dot,
    iconSize: [24, 24],
    iconAnchor: [12, 12],
  });
}

function cssToken(id) {
  return String(id ?? "").replace(/[^A-Za-z0-9_-]/g, "_");
}

// The list in the panel: the same features by name, for keyboards and for
// finding a zone too small to click.
export function createFeatureList(doc, { onPick }) {
  const list = doc.getElementById("edit-list");
  const count = doc.getElementById("edit-list-count");
  let selected = null;

  function show(features, truncated) {
    clear(list);
    count.textContent = features.length ? `(${formatInteger(features.length)}${truncated ? "+" : ""})` : "";
    if (!features.length) {
      list.append(el("li", { class: "edit-list-empty", text: t("list_empty") }));
      return;
    }
    const sorted = [...features].sort((a, b) => featureLabel(a).localeCompare(featureLabel(b), "vi"));
    for (const feature of sorted.slice(0, LIST_LIMIT)) {
      const id = String(feature.id);
      list.append(
        el("li", { class: "edit-list-entry" }, [
          el("button", {
            type: "button",
            class: "edit-list-item",
            dataset: { id },
            "aria-current": id === selected ? "true" : null,
            text: featureLabel(feature),
            onclick: () => onPick(feature.id),
          }),
        ]),
      );
    }
    if (sorted.length > LIST_LIMIT) {
      const more = t("list_more", { n: formatInteger(sorted.length - LIST_LIMIT) });
      list.append(el("li", { class: "edit-list-more", text: more }));
    }
  }

  function select(id) {
    selected = id === null || id === undefined ? null : String(id);
    for (const button of list.querySelectorAll(".edit-list-item")) {
      if (button.dataset.id === selected) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  return { show, select };
}
