// What the server found wrong with a shape, shown where it is: a marker at
// a self-intersection, the overlapping part filled in, the features it
// overlaps outlined; and the one-click repair it offers, previewed first.

import { el } from "../dom.js";
import { t } from "../i18n.js";

const L = window.L;

const IGNORED = { pmIgnore: true, snapIgnore: true };
const OVERLAP_STYLE = { className: "edit-problem-overlap", color: "#c1121f", fillColor: "#e63946" };

export function createProblems(map, messages, { names, highlight, useRepaired }) {
  const marks = L.featureGroup().addTo(map);
  const repairPreview = L.featureGroup().addTo(map);

  function describe(error) {
    const parts = [el("span", { class: "edit-problem-text", text: String(error.message ?? "") })];
    const ids = Array.isArray(error.features) ? error.features : [];
    if (ids.length) {
      const overlapped = t("overlaps_features", { names: ids.map(names).join(", ") });
      parts.push(el("span", { class: "edit-problem-features", text: ` ${overlapped}` }));
    }
    return el("span", {}, parts);
  }

  function mark(error) {
    const found = [];
    if (Array.isArray(error.location) && error.location.length >= 2) {
      const [lon, lat] = error.location.map(Number);
      if (Number.isFinite(lat) && Number.isFinite(lon)) {
        const marker = L.circleMarker([lat, lon], {
          ...IGNORED,
          radius: 9,
          color: "#c1121f",
          weight: 3,
          fillColor: "#ffccd5",
          fillOpacity: 0.9,
          className: "edit-problem-location",
        });
        const label = el("span", { text: String(error.message ?? t("geometry_here")) });
        marker.bindTooltip(label, { permanent: true, direction: "top" });
        marks.addLayer(marker);
        found.push(marker);
      }
    }
    if (error.overlap && typeof error.overlap === "object") {
      const shape = L.geoJSON(error.overlap, {
        ...IGNORED,
        interactive: false,
        style: { ...OVERLAP_STYLE, weight: 2, fillOpacity: 0.55 },
        pointToLayer: (point, latlng) => L.circleMarker(latlng, { ...IGNORED, ...OVERLAP_STYLE, radius: 8 }),
      });
      marks.addLayer(shape);
      found.push(shape);
    }
    return found;
  }

  function show(errors) {
    clear();
    const flagged = errors.flatMap((error) => (Array.isArray(error.features) ? error.features : []));
    highlight(flagged);
    const shapes = errors.flatMap(mark);
    messages.show("geometry", {
      kind: "error",
      text: t("geometry_problems"),
      details: errors.map(describe),
    });
    if (shapes.length) {
      const bounds = L.featureGroup(shapes).getBounds();
      if (bounds.isValid() && !map.getBounds().contains(bounds)) {
        map.fitBounds(bounds, { maxZoom: 17, padding: [32, 32] });
      }
    }
  }

  // Accepted saves may come back with warnings (e.g. an allowed overlap).
  function showWarnings(warnings, heading = t("warning_saved")) {
    clear();
    highlight(warnings.flatMap((warning) => (Array.isArray(warning.features) ? warning.features : [])));
    warnings.forEach(mark);
    messages.show("save", {
      kind: "warning",
      text: heading,
      details: warnings.map(describe),
    });
  }

  function offerRepair(geometry) {
    messages.show("repair", {
      kind: "info",
      text: t("repair_hint"),
      actions: [{ id: "edit-repair", label: t("repair"), primary: true, onClick: () => preview(geometry) }],
    });
  }

  function preview(geometry) {
    repairPreview.clearLayers();
    const shape = L.geoJSON(geometry, {
      ...IGNORED,
      interactive: false,
      style: { className: "edit-repair-shape", color: "#0077b6", weight: 3, dashArray: "2 6", fillOpacity: 0.15 },
    });
    repairPreview.addLayer(shape);
    const bounds = shape.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 18, padding: [32, 32] });
    messages.show("repair", {
      kind: "info",
      text: t("repair_hint"),
      actions: [
        { id: "edit-repair-use", label: t("repair_use"), primary: true, onClick: () => {
          clear();
          messages.remove("geometry");
          useRepaired(geometry);
        } },
        { id: "edit-repair-discard", label: t("repair_discard"), onClick: () => {
          repairPreview.clearLayers();
          messages.remove("repair");
        } },
      ],
    });
  }

  function clear() {
    marks.clearLayers();
    repairPreview.clearLayers();
    highlight([]);
    messages.remove("geometry");
  }

  return { show, showWarnings, offerRepair, clear };
}
