// The attribute form, generated from the layer's field declarations: one
// control per field, computed fields shown read-only, errors next to the
// field they are about.

import { clear, el } from "../dom.js";
import { formatDecimal, formatInteger, t } from "../i18n.js";

export function createForm(formElement, layer, { onInput = () => {} } = {}) {
  clear(formElement);
  formElement.dataset.layer = layer.id;
  const controls = new Map();
  // What the server works out (area, district, commune) leads, so that it is
  // in sight after saving; the officer's own fields follow in declared order.
  const computed = el("div", { class: "edit-computed" });
  const own = el("div", { class: "edit-own" });
  for (const field of layer.fields) {
    const control = buildControl(field);
    controls.set(field.name, control);
    (field.computed ? computed : own).append(control.row);
  }
  if (computed.childElementCount) formElement.append(computed);
  formElement.append(own);
  // Assigned, not added: the form element is reused when the layer changes.
  formElement.oninput = onInput;
  formElement.onchange = onInput;

  function setValues(props = {}) {
    for (const [name, control] of controls) control.set(props[name]);
    clearErrors();
  }

  // What the officer may send: every field that is not computed.
  function values() {
    const props = {};
    for (const [name, control] of controls) {
      if (!control.field.computed) props[name] = control.get();
    }
    return props;
  }

  // Problems the browser can see without asking the server.
  function check() {
    const errors = [];
    for (const [name, control] of controls) {
      const message = control.problem();
      if (message) errors.push({ field: name, message });
    }
    return errors;
  }

  // Returns the errors that belong to no field, for the caller to show.
  function showErrors(errors) {
    clearErrors();
    const rest = [];
    let first = null;
    for (const error of errors) {
      const control = controls.get(error.field);
      if (!control || error.field === "geometry") {
        rest.push(error);
        continue;
      }
      control.showError(error.message);
      first ??= control;
    }
    first?.focus();
    return rest;
  }

  function clearErrors() {
    for (const control of controls.values()) control.showError(null);
  }

  function setDisabled(disabled) {
    for (const control of controls.values()) control.setDisabled(disabled);
  }

  // A note under a field, e.g. the value the officer typed before a conflict.
  function setNote(name, text) {
    controls.get(name)?.setNote(text);
  }

  function clearNotes() {
    for (const control of controls.values()) control.setNote(null);
  }

  return { setValues, values, check, showErrors, clearErrors, setDisabled, setNote, clearNotes, displayValue };
}

function buildControl(field) {
  const id = `field-${field.name}`;
  const errorId = `${id}-error`;
  const noteId = `${id}-note`;
  const labelChildren = [el("span", { class: "field-label-text", text: field.label })];
  if (field.unit) labelChildren.push(el("span", { class: "field-unit", text: ` (${field.unit})` }));
  if (field.required && !field.computed) {
    labelChildren.push(
      el("span", { class: "field-required", "aria-hidden": "true", title: t("required"), text: " *" }),
    );
  }
  const row = el("div", {
    class: `field field--${field.kind}${field.computed ? " field--computed" : ""}`,
    dataset: { field: field.name },
  });
  const error = el("p", { class: "field-error", id: errorId, hidden: true });
  const note = el("p", { class: "field-note", id: noteId, hidden: true });

  if (field.computed) {
    const output = el("output", { class: "field-output", id, name: field.name, "aria-describedby": `${id}-hint` });
    row.append(
      el("span", { class: "field-label", id: `${id}-label` }, labelChildren),
      output,
      el("span", { class: "field-hint visually-hidden", id: `${id}-hint`, text: t("computed") }),
    );
    output.setAttribute("aria-labelledby", `${id}-label`);
    let current = null;
    return {
      field,
      row,
      set(value) {
        current = value ?? null;
        output.textContent = current === null || current === "" ? t("computed_pending") : displayValue(field, current);
        output.classList.toggle("is-pending", current === null || current === "");
      },
      get: () => current,
      problem: () => null,
      showError: () => {},
      setDisabled: () => {},
      setNote: () => {},
      focus: () => {},
    };
  }

  const input = inputFor(field, id);
  input.setAttribute("aria-describedby", `${errorId} ${noteId}`);
  if (field.required) input.setAttribute("aria-required", "true");
  row.append(el("label", { class: "field-label", for: id }, labelChildren), input, error, note);

  return {
    field,
    row,
    set(value) {
      setInput(field, input, value);
    },
    get: () => readInput(field, input),
    problem: () => problemWith(field, input),
    showError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      row.classList.toggle("has-error", Boolean(message));
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    },
    setDisabled(disabled) {
      input.disabled = disabled;
    },
    setNote(text) {
      note.textContent = text || "";
      note.hidden = !text;
    },
    focus: () => input.focus(),
  };
}

function inputFor(field, id) {
  const common = { id, name: field.name, class: "field-input" };
  switch (field.kind) {
    case "enum": {
      const select = el("select", common, [el("option", { value: "", text: t("none") })]);
      for (const choice of field.choices || []) {
        select.append(el("option", { value: choice.value, text: choice.label }));
      }
      return select;
    }
    case "boolean":
      return el("select", common, [
        el("option", { value: "", text: t("none") }),
        el("option", { value: "true", text: t("yes") }),
        el("option", { value: "false", text: t("no") }),
      ]);
    case "longtext":
      return el("textarea", { ...common, rows: 4, maxlength: field.maxLength || null });
    case "integer":
      return el("input", { ...common, type: "number", step: "1", inputmode: "numeric" });
    case "number":
      return el("input", { ...common, type: "number", step: "any", inputmode: "decimal" });
    case "date":
      return el("input", { ...common, type: "date" });
    case "url":
    case "photo":
      return el("input", { ...common, type: "url", maxlength: field.maxLength || null, spellcheck: "false" });
    default:
      return el("input", { ...common, type: "text", maxlength: field.maxLength || null, autocomplete: "off" });
  }
}

function setInput(field, input, value) {
  if (value === null || value === undefined) {
    input.value = "";
  } else if (field.kind === "boolean") {
    input.value = value ? "true" : "false";
  } else if (field.kind === "date") {
    input.value = String(value).slice(0, 10);
  } else if (field.kind === "enum" && !(field.choices || []).some((c) => c.value === value)) {
    // A value the declaration no longer lists stays visible rather than being dropped.
    input.append(el("option", { value: String(value), text: String(value), dataset: { stale: "true" } }));
    input.value = String(value);
  } else {
    input.value = String(value);
  }
}

function readInput(field, input) {
  const raw = input.value;
  if (field.kind === "boolean") return raw === "" ? null : raw === "true";
  if (field.kind === "integer" || field.kind === "number") {
    if (raw.trim() === "") return null;
    const number = Number(raw);
    return Number.isFinite(number) ? number : raw;
  }
  const text = raw.trim();
  return text === "" ? null : text;
}

function problemWith(field, input) {
  const value = readInput(field, input);
  // A number input holding something it cannot parse reports an empty value.
  if ((field.kind === "integer" || field.kind === "number") && input.validity?.badInput) {
    return field.kind === "integer" ? t("field_integer") : t("field_number");
  }
  if (field.required && (value === null || value === "")) return t("field_required");
  if (field.kind === "integer" && value !== null && !Number.isInteger(value)) return t("field_integer");
  if (field.maxLength && typeof value === "string" && value.length > field.maxLength) {
    return t("field_too_long", { n: formatInteger(field.maxLength) });
  }
  return null;
}

export function displayValue(field, value) {
  if (value === null || value === undefined || value === "") return t("none");
  let text;
  if (field.kind === "enum") {
    text = field.choices?.find((choice) => choice.value === value)?.label ?? String(value);
  } else if (field.kind === "boolean") {
    text = value ? t("yes") : t("no");
  } else if (field.kind === "number" && Number.isFinite(Number(value))) {
    text = formatDecimal(Number(value), 2);
  } else if (field.kind === "integer" && Number.isFinite(Number(value))) {
    text = formatInteger(Number(value));
  } else {
    text = String(value);
  }
  return field.unit ? `${text} ${field.unit}` : text;
}
