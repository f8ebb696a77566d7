// Words of the file that no label of a field's list matches ("Lúa nếp" for
// a crop): one row each, with how many rows hold it and a select of the
// field's values. What the user picks is sent as `values`; a word left
// unpicked rejects its rows. Inspect finds the words of the previewed rows,
// each dry run those of the whole file. Words are told apart as the server
// matches them (its `key`: "lua nep" is "Lúa nếp"), and belong to the column
// they were read from: another reading or another column drops them, while
// the picks made stay for the words that come again.

import { clear, el, showChoice } from "../dom.js";
import { formatInteger, t } from "../i18n.js";
import { writableFields } from "./mapping.js";

export function createValuesTable(section, { onChange }) {
  const body = section.querySelector("tbody");
  let words = new Map(); // "field\u0000key" -> { field, column, key, text, rows, select }
  let fields = new Map(); // enum fields of the layer by name
  let sources = {}; // field -> the column mapped to it now
  const picks = new Map(); // "field\u0000key" -> the value picked, kept across readings

  function reset(layer) {
    words = new Map();
    picks.clear();
    fields = new Map(writableFields(layer).filter((f) => f.kind === "enum").map((f) => [f.name, f]));
    render();
  }

  // An inspection's words replace the earlier ones: they came from another reading of the file.
  function replace(unmatched, mapping) {
    words = new Map();
    add(unmatched, mapping);
  }

  // `unmatched`: field -> [{value, key, rows}], from an inspection or a report;
  // `mapping`: column -> field, as it was sent.
  function add(unmatched, mapping) {
    sources = fieldSources(mapping);
    for (const [name, found] of Object.entries(unmatched || {})) {
      const field = fields.get(name);
      if (!field || !Array.isArray(found)) continue;
      for (const { value, key, rows } of found) {
        const id = `${name}\u0000${key ?? value}`;
        const known = words.get(id);
        if (known) known.rows = Math.max(known.rows, Number(rows) || 0);
        else words.set(id, { field, column: sources[name], key: id, text: String(value), rows: Number(rows) || 0 });
      }
    }
    render();
  }

  // The mapping changed: the words of a field now read from another column are no longer its.
  function follow(mapping) {
    sources = fieldSources(mapping);
    for (const [id, word] of words) if (sources[word.field.name] !== word.column) words.delete(id);
    render();
  }

  function render() {
    clear(body);
    let index = 0;
    for (const word of words.values()) {
      const n = index++;
      const label = word.field.label && word.field.label !== word.field.name ? `${word.field.label} (${word.field.name})` : word.field.name;
      const select = el("select", {
        class: "edit-select import-value-select",
        id: `import-value-${n}`,
        "aria-labelledby": `import-value-field-${n} import-value-text-${n}`,
        onchange: () => {
          if (select.value) picks.set(word.key, select.value);
          else picks.delete(word.key);
          showChoice(select);
          onChange();
        },
      });
      select.append(el("option", { value: "", text: t("values_reject") }));
      for (const choice of word.field.choices || []) select.append(el("option", { value: choice.value, text: choice.label }));
      select.value = picks.get(word.key) || "";
      showChoice(select);
      body.append(
        el("tr", { dataset: { field: word.field.name, value: word.text } }, [
          el("td", { id: `import-value-field-${n}`, text: label }),
          el("th", { scope: "row", id: `import-value-text-${n}`, class: "import-value-text", text: word.text }),
          el("td", { class: "import-value-rows", text: formatInteger(word.rows) }),
          el("td", {}, select),
        ]),
      );
    }
    section.hidden = index === 0;
  }

  // field -> file text -> value, for the words shown and given a value.
  function chosen() {
    const out = {};
    for (const word of words.values()) {
      const value = picks.get(word.key);
      if (value) (out[word.field.name] ||= {})[word.text] = value;
    }
    return out;
  }

  return { reset, replace, add, follow, chosen };
}

function fieldSources(mapping) {
  const out = {};
  for (const [column, field] of Object.entries(mapping || {})) if (field) out[field] = column;
  return out;
}
