// Required fields no column of the file fills (a phone's KML of relics has
// no rank): the user may give every row one value instead, sent as the run's
// `set`. A field mapped from a column again drops out; a value given stays
// while its field is offered.

import { clear, el, showChoice } from "../dom.js";
import { t } from "../i18n.js";

export function createConstants(section, { onChange }) {
  const body = section.querySelector(".import-constants-body");
  let controls = new Map(); // field name -> <select> or <input>

  function control(f, n, kept) {
    const attrs = { id: `import-constant-${n}`, dataset: { field: f.name }, onchange: onChange };
    if (f.kind === "enum") {
      const select = el("select", { ...attrs, class: "edit-select", onchange: () => { showChoice(select); onChange(); } });
      select.append(el("option", { value: "", text: t("constant_none") }));
      for (const choice of f.choices || []) select.append(el("option", { value: choice.value, text: choice.label }));
      select.value = kept || "";
      showChoice(select);
      return select;
    }
    return el("input", { ...attrs, class: "field-input", type: "text", value: kept || "", oninput: onChange });
  }

  function show(fields, label) {
    const kept = chosen();
    controls = new Map();
    clear(body);
    fields.forEach((f, n) => {
      const input = control(f, n, kept[f.name]);
      controls.set(f.name, input);
      body.append(el("div", { class: "import-constant" }, [
        el("label", { for: input.id, class: "import-column", text: label(f) }),
        input,
      ]));
    });
    section.hidden = fields.length === 0;
  }

  function chosen() {
    const out = {};
    for (const [name, input] of controls) if (input.value.trim()) out[name] = input.value.trim();
    return out;
  }

  return { show, chosen };
}
