// "Find near me": a map control that asks where the visitor is, marks the
// position and hands it on (nearby.js lists the places around it). Without a
// position (refusal, old browser, http page, no fix) it says why and the rest
// of the map carries on.

import { el } from "./dom.js";
import { t } from "./i18n.js";

const L = window.L;

// GeolocationPositionError.code
const PERMISSION_DENIED = 1;

export function addLocateControl(map, { onStatus, onFound }) {
  if (!("geolocation" in navigator)) return null;
  const marker = L.layerGroup().addTo(map);
  // The position stays in sight above the places' markers and clusters.
  const pane = map.createPane("locate");
  pane.style.zIndex = "640";
  let button = null;

  const Control = L.Control.extend({
    options: { position: "topleft" },
    onAdd() {
      button = el("button", {
        type: "button",
        class: "locate-button",
        title: t("near_me"),
        "aria-label": t("near_me"),
      }, [el("span", { class: "locate-icon", "aria-hidden": "true" })]);
      L.DomEvent.disableClickPropagation(button);
      button.addEventListener("click", () => {
        onStatus(t("locating"));
        button.setAttribute("aria-busy", "true");
        map.locate({ setView: false, enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
      return el("div", { class: "leaflet-bar locate-control" }, button);
    },
  });

  map.on("locationfound", (event) => {
    button?.removeAttribute("aria-busy");
    marker.clearLayers();
    L.circle(event.latlng, { radius: event.accuracy, className: "locate-accuracy", interactive: false }).addTo(marker);
    L.circleMarker(event.latlng, { radius: 7, className: "locate-position", pane: "locate" })
      .bindTooltip(t("you_are_here"))
      .addTo(marker);
    onStatus(null);
    onFound(event.latlng, event.accuracy);
  });
  map.on("locationerror", (event) => {
    button?.removeAttribute("aria-busy");
    onStatus(locationErrorText(event.code), { transient: true });
  });

  const control = new Control();
  control.addTo(map);
  return control;
}

function locationErrorText(code) {
  // Browsers give positions to https pages only, and answer others as if refused.
  if (!window.isSecureContext) return t("location_unavailable");
  return code === PERMISSION_DENIED ? t("location_denied") : t("location_error");
}
