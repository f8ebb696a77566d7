// When a colleague saved the same feature first (412), nothing the officer
// did is thrown away: their version is loaded for editing while the
// officer's drawing stays on the map, dashed, ready to be applied again.

import { el } from "../dom.js";
import { t } from "../i18n.js";
import { displayValue } from "./form.js";

const L = window.L;
const KEY = "conflict";
const MINE_STYLE = { className: "edit-mine-shape", color: "#c1121f" };

export function createConflict(map, messages, { loadTheirs, useShape, useValues }) {
  const mineLayer = L.featureGroup().addTo(map);
  let mine = null;

  // draft: { geometry, properties, base } when the save was refused; base
  // is the version the officer started from. Only what the officer changed
  // counts as theirs to re-apply: the rest is the colleague's newer work.
  function report(draft) {
    mine = { geometry: draft.geometry, properties: draft.properties, base: draft.base || {} };
    messages.show(KEY, {
      kind: "error",
      text: t("conflict"),
      actions: [{ id: "edit-conflict-load", label: t("conflict_load"), primary: true, onClick: load }],
    });
  }

  async function load() {
    const theirs = await loadTheirs();
    if (!theirs) return;
    showMine(theirs);
  }

  function showMine(theirs) {
    mineLayer.clearLayers();
    if (mine.geometry) {
      const shape = L.geoJSON(mine.geometry, {
        // Not editable, but the officer can snap the new version onto it.
        pmIgnore: true,
        snapIgnore: false,
        interactive: false,
        style: { ...MINE_STYLE, weight: 3, dashArray: "8 6", fill: false },
        pointToLayer: (point, latlng) =>
          L.circleMarker(latlng, { ...MINE_STYLE, pmIgnore: true, snapIgnore: false, radius: 10, dashArray: "4 4" }),
      });
      shape.bindTooltip(el("span", { text: t("my_drawing") }), { sticky: true });
      mineLayer.addLayer(shape);
    }
    const differences = changedFields(theirs.layer, mine, theirs.feature.properties || {});
    const details = differences.map(({ field, value }) =>
      el("span", {}, [
        el("span", { class: "edit-diff-field", text: `${field.label}: ` }),
        el("span", { class: "edit-diff-value", text: displayValue(field, value) }),
      ]),
    );
    mine = { ...mine, properties: differences.length ? Object.fromEntries(differences.map((d) => [d.field.name, d.value])) : null };
    messages.show(KEY, {
      kind: "warning",
      text: differences.length ? `${t("conflict_loaded")} ${t("conflict_your_values")}` : t("conflict_loaded"),
      details,
      actions: remainingActions(),
    });
  }

  function applyShape() {
    if (!mine?.geometry) return;
    useShape(mine.geometry);
    mineLayer.clearLayers();
    mine = { ...mine, geometry: null };
    finishIfDone();
  }

  function applyValues() {
    if (!mine) return;
    useValues(mine.properties);
    mine = { ...mine, properties: null };
    finishIfDone();
  }

  function finishIfDone() {
    if (!mine.geometry && !mine.properties) {
      clear();
      return;
    }
    messages.show(KEY, { kind: "warning", text: t("conflict_loaded"), actions: remainingActions() });
  }

  // Buttons for what of the officer's work has not been applied yet.
  function remainingActions() {
    const actions = [];
    if (mine.geometry) {
      actions.push({ id: "edit-conflict-use-shape", label: t("conflict_use_shape"), primary: true, onClick: applyShape });
    }
    if (mine.properties) {
      actions.push({ id: "edit-conflict-use-values", label: t("conflict_use_values"), onClick: applyValues });
    }
    actions.push({ id: "edit-conflict-discard", label: t("conflict_discard"), onClick: clear });
    return actions;
  }

  function clear() {
    mine = null;
    mineLayer.clearLayers();
    messages.remove(KEY);
  }

  return { report, clear, get active() {
    return mine !== null;
  } };
}

// Fields the officer changed from the base version that now differ from theirs.
function changedFields(layer, mine, theirProps) {
  const props = mine.properties;
  if (!props) return [];
  return layer.fields
    .filter((field) => !field.computed && Object.hasOwn(props, field.name))
    .filter((field) => !same(props[field.name], mine.base[field.name]))
    .filter((field) => !same(props[field.name], theirProps[field.name]))
    .map((field) => ({ field, value: props[field.name] }));
}

function same(a, b) {
  const blank = (value) => value === null || value === undefined || value === "";
  if (blank(a) && blank(b)) return true;
  return String(a) === String(b);
}
