// The export page: the form becomes one /export address (empty choices left
// out), shown as a link so planners can reuse it in scripts or QGIS.

import { initI18n, t } from "./i18n.js";

export function exportUrl(form) {
  const data = new FormData(form);
  const params = new URLSearchParams();
  const layers = data.getAll("layers");
  if (layers.length) params.set("layers", layers.join(","));
  for (const [name, value] of data) {
    if (name === "layers" || String(value).trim() === "") continue;
    if (name === "geometry" && data.get("format") !== "csv") continue;
    // Filters of layers not chosen would be refused by the server.
    const dot = name.indexOf(".");
    if (dot > 0 && !layers.includes(name.slice(0, dot))) continue;
    params.set(name, String(value).trim());
  }
  return `${form.action}?${params}`;
}

function problem(form) {
  const data = new FormData(form);
  const layers = data.getAll("layers");
  if (!layers.length) return t("no_layer");
  const option = form.querySelector(`#export-format option[value="${data.get("format")}"]`);
  if (layers.length > 1 && option?.dataset.multi !== "yes") return t("one_layer");
  return null;
}

function start(doc) {
  initI18n({}, doc);
  const form = doc.getElementById("export-form");
  const link = doc.getElementById("export-link");
  const error = doc.getElementById("export-error");
  const csvGeometry = doc.getElementById("csv-geometry");
  const refresh = () => {
    const url = exportUrl(form);
    link.href = url;
    link.textContent = url;
    csvGeometry.hidden = form.elements.format.value !== "csv";
    for (const box of doc.querySelectorAll(".export-layer-filters")) {
      box.hidden = !new FormData(form).getAll("layers").includes(box.dataset.layer);
    }
    const message = problem(form);
    error.hidden = !message;
    error.textContent = message || "";
    return message;
  };
  form.addEventListener("change", refresh);
  form.addEventListener("input", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!refresh()) window.location.assign(exportUrl(form));
  });
  refresh();
}

start(document);
