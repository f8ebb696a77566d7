// Words of the file that no label of a field's list matches ("Lúa nếp" for
// a crop): one row each, with how many rows hold it and a select of the
// field's values. What the user picks is sent as `values`; a word left
// unpicked rejects its rows. Inspect finds the words of the previewed rows,
// each dry run those of the whole file; both add to the table, keeping
// the picks already made.

import { clear, el } from "../dom.js";
import { formatInteger, t } from "../i18n.js";
import { writableFields } from "./mapping.js";

export function createValuesTable(section, { onChange }) {
  const body = section.querySelector("tbody");
  const words = new Map(); // "field\u0000text" -> { field, text, rows, select }
  let fields = new Map(); // enum fields of the layer by name
  let mapped = new Set(); // fields some column is mapped to now

  function reset(layer) {
    words.clear();
    fields = new Map(writableFields(layer).filter((f) => f.kind === "enum").map((f) => [f.name, f]));
    render();
  }

  // `unmatched`: field -> [{value, rows}], from an inspection or a report.
  function add(unmatched) {
    for (const [name, found] of Object.entries(unmatched || {})) {
      const field = fields.get(name);
      if (!field || !Array.isArray(found)) continue;
      for (const { value, rows } of found) {
        const key = `${name}\u0000${value}`;
        const known = words.get(key);
        if (known) known.rows = Math.max(known.rows, Number(rows) || 0);
        else words.set(key, { field, text: String(value), rows: Number(rows) || 0, select: choiceSelect(field) });
      }
    }
    render();
  }

  function choiceSelect(field) {
    const select = el("select", { class: "edit-select import-value-select", onchange: onChange });
    select.append(el("option", { value: "", text: t("values_reject") }));
    for (const choice of field.choices || []) select.append(el("option", { value: choice.value, text: choice.label }));
    return select;
  }

  // Only the words of fields a column is mapped to count, and are shown.
  function showFor(fieldNames) {
    mapped = new Set(fieldNames);
    render();
  }

  function render() {
    clear(body);
    let index = 0;
    for (const word of words.values()) {
      if (!mapped.has(word.field.name)) continue;
      word.select.id = `import-value-${index++}`;
      const label = word.field.label && word.field.label !== word.field.name ? `${word.field.label} (${word.field.name})` : word.field.name;
      body.append(
        el("tr", { dataset: { field: word.field.name, value: word.text } }, [
          el("td", { text: label }),
          el("th", { scope: "row" }, el("label", { for: word.select.id, class: "import-value-text", text: word.text })),
          el("td", { class: "import-value-rows", text: formatInteger(word.rows) }),
          el("td", {}, word.select),
        ]),
      );
    }
    section.hidden = index === 0;
  }

  // field -> file text -> value, for the words given a value.
  function chosen() {
    const out = {};
    for (const word of words.values()) {
      if (!mapped.has(word.field.name) || !word.select.value) continue;
      (out[word.field.name] ||= {})[word.text] = word.select.value;
    }
    return out;
  }

  return { reset, add, showFor, chosen };
}
