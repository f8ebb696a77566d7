// The file's features on the map, as read with the chosen options, and the
// place of a rejected row when the report gives one.

import { el } from "../dom.js";
import { t } from "../i18n.js";

const L = window.L;

const POPUP_ROWS = 12;
const PLACE_ZOOM = 17;

function popupContent(properties) {
  const entries = Object.entries(properties || {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
  const table = el("table", { class: "import-popup" });
  for (const [key, value] of entries.slice(0, POPUP_ROWS)) {
    table.append(el("tr", {}, [el("th", { scope: "row", text: key }), el("td", { text: String(value) })]));
  }
  if (entries.length > POPUP_ROWS) {
    table.append(el("tr", {}, el("td", { colspan: "2", text: t("more_columns", { n: entries.length - POPUP_ROWS }) })));
  }
  return table;
}

const REJECTED = { color: "#b91c1c", fillColor: "#fca5a5", dashArray: "5 4" };

// covered(): how many pixels at the bottom of the map a panel hides (phones).
export function createPreview(map, { covered = () => 0 } = {}) {
  let layer = null;
  let marker = null;
  // Preview features carry their row number as id, as the report counts rows.
  const byRow = new Map();

  function show(collection, style) {
    clearAll();
    const paint = {
      color: style?.color || "#1d4ed8",
      fillColor: style?.fillColor || "#60a5fa",
      fillOpacity: 0.35,
      weight: 2,
    };
    layer = L.geoJSON(collection, {
      style: () => paint,
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { ...paint, radius: 6, fillOpacity: 0.8 }),
      onEachFeature: (feature, item) => {
        item.bindPopup(() => popupContent(feature.properties));
        if (feature.id !== undefined && feature.id !== null) byRow.set(Number(feature.id), { item, style: { ...item.options } });
      },
    }).addTo(map);
    return fit();
  }

  function bounds() {
    const b = layer?.getBounds();
    return b && b.isValid() ? b : null;
  }

  function fit() {
    const b = bounds();
    // The attribution sits over the bottom of the map: no shape is drawn under it.
    const attribution = map.attributionControl?.getContainer()?.offsetHeight || 0;
    if (b) map.fitBounds(b, { paddingTopLeft: [24, 24], paddingBottomRight: [24, 24 + covered() + attribution], maxZoom: PLACE_ZOOM });
    return b;
  }

  // lon/lat as the report gives it.
  function place(location, text) {
    marker?.remove();
    const latlng = L.latLng(location[1], location[0]);
    marker = L.circleMarker(latlng, {
      radius: 10,
      color: "#b91c1c",
      weight: 3,
      fillColor: "#fca5a5",
      fillOpacity: 0.6,
      className: "import-problem-marker",
    })
      .bindTooltip(text, { direction: "top", permanent: false })
      .addTo(map);
    map.setView(latlng, Math.max(map.getZoom(), PLACE_ZOOM), { animate: false });
    // Keep the place above a panel that covers the bottom of the map.
    if (covered()) map.panBy([0, covered() / 2], { animate: false });
    marker.openTooltip();
  }

  // Rows the last run rejected are drawn in red, dashed.
  function markRejected(rows) {
    const rejected = new Set(rows.map(Number));
    for (const [row, { item, style: drawn }] of byRow) {
      const style = rejected.has(row) ? { ...drawn, ...REJECTED } : { ...drawn, dashArray: null };
      item.setStyle?.(style);
      item.getElement?.()?.classList.toggle("import-rejected-feature", rejected.has(row));
    }
  }

  function clearPlace() {
    marker?.remove();
    marker = null;
  }

  function clearAll() {
    layer?.remove();
    layer = null;
    byRow.clear();
    clearPlace();
  }

  return { show, fit, bounds, place, markRejected, clearPlace, clear: clearAll };
}
