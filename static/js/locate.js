// "Find near me": a map control that centres the map on the visitor.
// Without geolocation (old browser, http page, refusal) it says so and the
// rest of the map carries on.

import { el } from "./dom.js";
import { t } from "./i18n.js";

const L = window.L;

export function addLocateControl(map, { onStatus }) {
  if (!("geolocation" in navigator)) return null;
  const marker = L.layerGroup().addTo(map);

  const Control = L.Control.extend({
    options: { position: "topleft" },
    onAdd() {
      const button = el("button", {
        type: "button",
        class: "locate-button",
        title: t("near_me"),
        "aria-label": t("near_me"),
      }, [el("span", { class: "locate-icon", "aria-hidden": "true" })]);
      L.DomEvent.disableClickPropagation(button);
      button.addEventListener("click", () => {
        onStatus(t("locating"));
        map.locate({ setView: true, maxZoom: 15, enableHighAccuracy: true, timeout: 15000 });
      });
      return el("div", { class: "leaflet-bar locate-control" }, button);
    },
  });

  map.on("locationfound", (event) => {
    marker.clearLayers();
    L.circle(event.latlng, { radius: event.accuracy, className: "locate-accuracy", interactive: false }).addTo(marker);
    L.circleMarker(event.latlng, { radius: 7, className: "locate-position" })
      .bindTooltip(t("you_are_here"))
      .addTo(marker);
    onStatus(t("location_found"), { transient: true });
  });
  map.on("locationerror", (event) => {
    onStatus(event.code === 1 ? t("location_unavailable") : t("location_error"), { transient: true });
  });

  const control = new Control();
  control.addTo(map);
  return control;
}
