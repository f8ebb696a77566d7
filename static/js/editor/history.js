// The history panel: every saved version of a feature, newest first, each
// with who, when and what, a preview of its shape and a Restore button.

import { clear, el } from "../dom.js";
import { formatInteger, locale, t } from "../i18n.js";

const L = window.L;

export function createHistoryPanel(doc, map, { onRestore }) {
  const section = doc.getElementById("edit-history");
  const toggle = doc.getElementById("edit-history-toggle");
  const list = doc.getElementById("edit-history-list");
  const status = doc.getElementById("edit-history-status");
  const preview = L.featureGroup().addTo(map);
  let previewed = null;

  function setOpen(open) {
    section.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (!open) hidePreview();
  }

  function isOpen() {
    return !section.hidden;
  }

  function showLoading() {
    clear(list);
    status.textContent = t("history_loading");
  }

  function showError() {
    clear(list);
    status.textContent = t("history_error");
  }

  // deleted: the feature no longer exists, so even the newest version can be restored.
  function show(versions, { deleted = false } = {}) {
    hidePreview();
    clear(list);
    status.textContent = versions.length ? "" : t("history_empty");
    versions.forEach((version, index) => {
      const current = index === 0 && !deleted && version.operation !== "delete";
      list.append(entry(version, current));
    });
  }

  function entry(version, current) {
    const name = version.properties?.name;
    const item = el("li", { class: "edit-history-entry", dataset: { version: String(version.version) } });
    item.append(
      el("p", {
        class: "edit-history-head",
        text: t("history_entry", {
          version: formatInteger(Number(version.version)),
          operation: t(`op_${version.operation}`),
          user: version.user ?? "—",
          at: formatDateTime(version.at),
        }),
      }),
    );
    if (name !== undefined && name !== null) {
      item.append(el("p", { class: "edit-history-name", text: String(name) }));
    }
    const actions = el("div", { class: "edit-history-actions" });
    if (version.geometry) {
      const showButton = el("button", {
        type: "button",
        class: "edit-button edit-button--small",
        text: t("history_show"),
        "aria-pressed": "false",
      });
      showButton.addEventListener("click", () => togglePreview(version, showButton));
      actions.append(showButton);
    }
    if (current) {
      actions.append(el("span", { class: "edit-history-current", text: t("history_current") }));
    } else if (version.operation !== "delete") {
      actions.append(
        el("button", {
          type: "button",
          class: "edit-button edit-button--small edit-history-restore",
          text: t("history_restore"),
          onclick: () => onRestore(version),
        }),
      );
    }
    item.append(actions);
    return item;
  }

  function togglePreview(version, button) {
    const same = previewed?.version === version.version;
    hidePreview();
    if (same) return;
    previewed = { version: version.version, button };
    button.setAttribute("aria-pressed", "true");
    button.textContent = t("history_hide");
    const ignored = { pmIgnore: true, snapIgnore: true, interactive: false, className: "edit-history-shape" };
    const shape = L.geoJSON(version.geometry, {
      ...ignored,
      style: { className: ignored.className, color: "#6a4c93", weight: 3, dashArray: "2 6", fillOpacity: 0.1 },
      pointToLayer: (point, latlng) => L.circleMarker(latlng, { ...ignored, radius: 10 }),
    });
    preview.addLayer(shape);
    const bounds = shape.getBounds();
    if (bounds.isValid() && !map.getBounds().contains(bounds)) {
      map.fitBounds(bounds, { maxZoom: 17, padding: [24, 24] });
    }
  }

  function hidePreview() {
    preview.clearLayers();
    if (previewed?.button) {
      previewed.button.setAttribute("aria-pressed", "false");
      previewed.button.textContent = t("history_show");
    }
    previewed = null;
  }

  function reset() {
    clear(list);
    status.textContent = "";
    setOpen(false);
  }

  return { setOpen, isOpen, showLoading, showError, show, reset, toggle };
}

export function formatDateTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value ?? "");
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(date);
}
