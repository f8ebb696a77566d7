// Popup content for one feature, built from the layer's field declarations.

import { el, safeUrl } from "./dom.js";
import { currentLang, formatDate, formatDecimal, formatInteger, t } from "./i18n.js";

// Fields that get their own place in the popup rather than a row in the list
// (and every "photo" field: its picture stands at the top).
const SPECIAL_FIELDS = new Set(["name", "illustrative"]);
const DESCRIPTION_LIMIT = 280;

export function detailUrl(layerId, featureId, base = "/") {
  return `${base}${encodeURIComponent(layerId)}/${encodeURIComponent(featureId)}`;
}

// `detailBase`: the app's address ending in "/" (a published map opened from
// disk links back to it), or null for no link; `newTab` keeps a map embedded
// in another site where it is.
export function buildPopup(feature, layer, { detailBase = "/", newTab = false } = {}) {
  const props = feature.properties || {};
  const root = el("article", { class: "popup", dataset: { layer: layer.id } });
  for (const field of layer.fields.filter((f) => f.kind === "photo")) {
    const photo = safeUrl(props[field.name]);
    if (photo) root.append(el("img", { class: "popup-photo", src: photo, alt: "", loading: "lazy" }));
  }
  const title = localized(props, "name");
  root.append(el("h3", { class: "popup-title", text: title || "—" }));
  // Visitors reading English still need the local name that is on the signs.
  if (props.name && title !== props.name) {
    root.append(el("p", { class: "popup-subtitle", lang: "vi", text: props.name }));
  }
  if (props.illustrative === true) {
    root.append(el("p", { class: "popup-illustrative", role: "note", text: t("illustrative") }));
  }
  const rows = popupFields(layer).filter((field) => field.kind !== "longtext");
  const list = el("dl", { class: "popup-fields" });
  for (const field of rows) {
    const value = formatField(field, localized(props, field.name));
    // Each label and value as one group, so that a narrow popup can put a
    // long value under its label (popup.css).
    if (value !== null) {
      list.append(el("div", { class: "popup-field" }, [el("dt", { text: field.label }), el("dd", {}, value)]));
    }
  }
  if (list.childElementCount) root.append(list);
  for (const field of popupFields(layer).filter((f) => f.kind === "longtext")) {
    const text = localized(props, field.name);
    if (text) root.append(el("p", { class: "popup-text", text: shorten(text, DESCRIPTION_LIMIT) }));
  }
  if (detailBase !== null && feature.id !== undefined && feature.id !== null) {
    const href = detailUrl(layer.id, feature.id, detailBase);
    const opens = newTab ? { target: "_blank", rel: "noopener" } : {};
    root.append(el("a", { class: "popup-link", href, text: t("details"), ...opens }));
  }
  return root;
}

function popupFields(layer) {
  return layer.fields.filter((field) => field.popup && field.kind !== "photo" && !SPECIAL_FIELDS.has(field.name));
}

// English readers get the *_en variant of a text when the data has one.
function localized(props, name) {
  const english = props[`${name}_en`];
  if (currentLang() === "en" && typeof english === "string" && english.trim()) return english;
  return props[name];
}

function shorten(text, limit) {
  const clean = String(text).trim();
  return clean.length <= limit ? clean : `${clean.slice(0, limit).trimEnd()}…`;
}

export function formatField(field, value) {
  if (value === null || value === undefined || value === "") return null;
  const formatted = formatValue(field, value);
  if (formatted instanceof Node) return formatted;
  return field.unit ? `${formatted} ${field.unit}` : formatted;
}

function formatValue(field, value) {
  switch (field.kind) {
    case "enum":
      return field.choices?.find((choice) => choice.value === value)?.label ?? String(value);
    case "boolean":
      return value ? t("yes") : t("no");
    case "integer":
      return Number.isFinite(Number(value)) ? formatInteger(Number(value)) : String(value);
    case "number":
      return Number.isFinite(Number(value)) ? formatDecimal(Number(value), 2) : String(value);
    case "date":
      return formatDate(value);
    case "url": {
      const href = safeUrl(value);
      return href
        ? el("a", { href, text: String(value), rel: "noopener noreferrer", target: "_blank" })
        : String(value);
    }
    default:
      return String(value);
  }
}
