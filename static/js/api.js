// Reading features from the OGC API – Features endpoint.

export class ApiError extends Error {
  constructor(status, code, description) {
    super(description || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function itemsUrl(apiBase, layerId, params) {
  const url = new URL(
    `${apiBase.replace(/\/$/, "")}/collections/${encodeURIComponent(layerId)}/items`,
    window.location.origin,
  );
  url.searchParams.set("f", "json");
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

export async function fetchItems(apiBase, layerId, params, signal) {
  const response = await fetch(itemsUrl(apiBase, layerId, params), {
    signal,
    headers: { Accept: "application/geo+json, application/json" },
  });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

async function errorFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML error page: the status alone has to do.
  }
  return new ApiError(response.status, body.code, body.description);
}

// Search several layers at once; a layer that fails does not hide the
// others' hits, but if every layer fails the caller hears about it.
export async function searchLayers(apiBase, layers, paramsFor, signal) {
  const answers = await Promise.allSettled(
    layers.map(async (layer) => {
      const collection = await fetchItems(apiBase, layer.id, paramsFor(layer), signal);
      return (collection.features || []).map((feature) => ({ layer, feature }));
    }),
  );
  const failures = answers.filter((answer) => answer.status === "rejected");
  if (failures.length && failures.length === answers.length) throw failures[0].reason;
  return answers.flatMap((answer) => (answer.status === "fulfilled" ? answer.value : []));
}

export function isAbort(error) {
  return error?.name === "AbortError";
}

// Longitudes wrap and latitudes stop at the poles; the API rejects both.
export function bboxParam(bounds) {
  const clampLon = (value) => Math.max(-180, Math.min(180, value));
  const clampLat = (value) => Math.max(-90, Math.min(90, value));
  return [
    clampLon(bounds.getWest()),
    clampLat(bounds.getSouth()),
    clampLon(bounds.getEast()),
    clampLat(bounds.getNorth()),
  ].map((value) => value.toFixed(5)).join(",");
}
