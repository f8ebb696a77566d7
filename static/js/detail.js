// Small map on a feature's detail page: the feature alone, no base map needed.
const config = JSON.parse(document.getElementById("detail-config").textContent);
const L = window.L;

function showFeature(element) {
  const map = L.map(element, { scrollWheelZoom: false });
  // Without tiles (none configured, or offline) the shape still shows.
  if (config.tiles?.url) {
    const attribution = document.createElement("span");
    attribution.textContent = config.tiles.attribution || "";
    L.tileLayer(config.tiles.url, { maxZoom: config.tiles.maxZoom || 19, attribution: attribution.innerHTML }).addTo(map);
  }
  const shape = L.geoJSON(config.geometry, {
    style: { color: config.color, fillColor: config.fillColor, weight: 2, fillOpacity: 0.35 },
    pointToLayer: (feature, latlng) =>
      L.circleMarker(latlng, { radius: 8, color: config.color, fillColor: config.fillColor, fillOpacity: 0.8 }),
  }).addTo(map);
  const bounds = shape.getBounds();
  map.fitBounds(bounds, { maxZoom: 15, padding: [20, 20] });
}

const element = document.getElementById("detail-map");
if (element && L) showFeature(element);
