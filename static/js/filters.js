// The layer list in the side panel: a checkbox per layer and, under it, a
// select for each filterable field the layer declares.

import { el } from "./dom.js";
import { formatInteger, t } from "./i18n.js";
import { isAreaLayer } from "./layers.js";

export function buildLayerList(container, config, { onToggle, onFilter }) {
  const entries = new Map();
  for (const layer of config.layers) {
    const entry = buildLayerEntry(layer, config, { onToggle, onFilter });
    entries.set(layer.id, entry);
    container.append(entry.root);
  }

  function sync(state) {
    for (const [layerId, entry] of entries) {
      const active = state.layers.has(layerId);
      const chosen = state.filters[layerId] || {};
      entry.checkbox.checked = active;
      entry.filters.hidden = !active || entry.selects.size === 0;
      for (const [field, select] of entry.selects) select.value = chosen[field] ?? "";
      const used = [...entry.selects.keys()].filter((field) => chosen[field]).length;
      entry.used.textContent = used ? `(${formatInteger(used)})` : "";
      // A link that arrives with filters shows them; nothing is closed behind the user's back.
      if (used) entry.filters.open = true;
      if (!active) setCount(layerId, null);
    }
  }

  function setCount(layerId, count, truncated = false) {
    const badge = entries.get(layerId)?.count;
    if (!badge) return;
    badge.textContent = count === null ? "" : `${formatInteger(count)}${truncated ? "+" : ""}`;
  }

  function setBusy(layerId, busy) {
    entries.get(layerId)?.root.classList.toggle("is-loading", busy);
  }

  return { sync, setCount, setBusy };
}

function buildLayerEntry(layer, config, { onToggle, onFilter }) {
  const inputId = `layer-${layer.id}`;
  const checkbox = el("input", {
    type: "checkbox",
    class: "layer-toggle",
    id: inputId,
    value: layer.id,
    onchange: (event) => onToggle(layer.id, event.target.checked),
  });
  const swatch = el("span", {
    class: `layer-swatch layer-swatch--${isAreaLayer(layer) ? "area" : "point"}`,
    "aria-hidden": "true",
    style: { backgroundColor: layer.style?.fillColor, borderColor: layer.style?.color },
  });
  const count = el("span", { class: "layer-count", title: t("in_view") });
  const head = el("div", { class: "layer-head" }, [
    checkbox,
    el("label", { for: inputId, class: "layer-label" }, [swatch, el("span", { class: "layer-title", text: layer.title })]),
    count,
  ]);
  const selects = new Map();
  const used = el("span", { class: "layer-filters-used" });
  const filters = el("details", { class: "layer-filters" }, [
    el("summary", {}, [el("span", { text: t("filters") }), " ", used]),
  ]);
  for (const field of layer.fields.filter((f) => f.filterable)) {
    const options = filterOptions(field, config);
    if (!options) continue;
    const select = buildSelect(`filter-${layer.id}-${field.name}`, field, options, (value) =>
      onFilter(layer.id, field.name, value),
    );
    selects.set(field.name, select);
    filters.append(
      el("div", { class: "filter" }, [
        el("label", { for: select.id, text: field.label }),
        select,
      ]),
    );
  }
  const root = el("section", { class: "layer", dataset: { layer: layer.id } }, [head, filters]);
  return { root, checkbox, filters, selects, count, used };
}

// Options as [value, label] pairs; null for fields that get no control.
function filterOptions(field, config) {
  if (field.name === "district") {
    return (config.districts || []).map((district) => [district.name, district.name]);
  }
  if (field.kind === "enum") return (field.choices || []).map((choice) => [choice.value, choice.label]);
  if (field.kind === "boolean") return [["true", t("yes")], ["false", t("no")]];
  return null;
}

function buildSelect(id, field, options, onChange) {
  const select = el(
    "select",
    {
      id,
      class: "filter-select",
      dataset: { field: field.name },
      onchange: (event) => onChange(event.target.value),
    },
    [el("option", { value: "", text: t("all") })],
  );
  for (const [value, label] of options) select.append(el("option", { value, text: label }));
  return select;
}
