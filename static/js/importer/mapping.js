// The mapping table: one row per column of the file, each with a select of
// the target layer's writable fields, pre-filled with the server's
// suggestion. It knows which required fields are still unmapped and which
// fields are chosen twice.

import { clear, el, showChoice } from "../dom.js";
import { t } from "../i18n.js";

const EXAMPLE_LENGTH = 40;

export function writableFields(layer) {
  return (layer?.fields || []).filter((f) => !f.computed);
}

function fieldLabel(f) {
  return f.label && f.label !== f.name ? `${f.label} (${f.name})` : f.name;
}

// The first non-empty value of a column in the preview, to help recognise it.
function example(features, column) {
  for (const feature of features) {
    const value = feature?.properties?.[column];
    if (value !== null && value !== undefined && String(value).trim() !== "") {
      const text = String(value);
      return text.length > EXAMPLE_LENGTH ? `${text.slice(0, EXAMPLE_LENGTH - 1)}…` : text;
    }
  }
  return "";
}

export function createMappingTable(body, { onChange }) {
  let fields = [];
  let selects = new Map(); // column -> <select>

  function show(layer, columns, suggested, features) {
    fields = writableFields(layer);
    selects = new Map();
    clear(body);
    columns.forEach((column, index) => {
      const id = `import-map-${index}`;
      const select = el("select", {
        class: "edit-select import-map-select",
        id,
        dataset: { column },
        onchange: () => {
          update();
          onChange();
        },
      });
      select.append(el("option", { value: "", text: t("not_imported") }));
      for (const f of fields) {
        select.append(el("option", { value: f.name, text: fieldLabel(f) + (f.required ? " *" : "") }));
      }
      const wanted = suggested?.[column];
      select.value = wanted && fields.some((f) => f.name === wanted) ? wanted : "";
      selects.set(column, select);
      body.append(
        el("tr", { dataset: { column } }, [
          el("th", { scope: "row" }, el("label", { for: id, class: "import-column", text: column })),
          el("td", { class: "import-example", text: example(features, column) }),
          el("td", {}, select),
        ]),
      );
    });
    update();
  }

  function mapping() {
    const out = {};
    for (const [column, select] of selects) out[column] = select.value;
    return out;
  }

  function problems() {
    const chosen = new Map();
    for (const select of selects.values()) {
      if (select.value) chosen.set(select.value, (chosen.get(select.value) || 0) + 1);
    }
    return {
      missing: fields.filter((f) => f.required && !chosen.has(f.name)),
      twice: fields.filter((f) => (chosen.get(f.name) || 0) > 1),
    };
  }

  // Rows whose field is chosen twice are marked, and every row shows whether
  // it is mapped, so the one left to fix by hand stands out.
  function update() {
    const { twice } = problems();
    const doubled = new Set(twice.map((f) => f.name));
    for (const select of selects.values()) {
      const row = select.closest("tr");
      row.classList.toggle("is-unmapped", !select.value);
      row.classList.toggle("has-error", doubled.has(select.value));
      select.setAttribute("aria-invalid", doubled.has(select.value) ? "true" : "false");
      showChoice(select);
    }
  }

  function mappedFields() {
    const names = new Set(Object.values(mapping()).filter(Boolean));
    return fields.filter((f) => names.has(f.name));
  }

  return { show, mapping, problems, mappedFields, label: fieldLabel };
}
