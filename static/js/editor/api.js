// Writes through the OGC API – Features endpoints, Part 4 style: every
// change to an existing feature names the version it started from
// (If-Match), so a colleague's save is never overwritten silently.

export class WriteError extends Error {
  constructor(status, body) {
    super(body?.description || body?.code || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || null;
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
    this.body = body || {};
  }

  get isConflict() {
    return this.status === 412 || this.status === 409;
  }
}

export class NetworkError extends Error {}

export function createWriteApi(config) {
  const base = String(config.apiBase || "/ogc").replace(/\/$/, "");
  const csrfToken = config.csrfToken || "";

  const items = (layerId) => `${base}/collections/${encodeURIComponent(layerId)}/items`;
  const item = (layerId, id) => `${items(layerId)}/${encodeURIComponent(id)}`;

  async function send(method, url, { body, etag } = {}) {
    const headers = {
      Accept: "application/geo+json, application/json",
      "X-CSRF-Token": csrfToken,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (etag) headers["If-Match"] = etag;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        // The editor must always start from the latest saved version.
        cache: "no-store",
      });
    } catch (error) {
      throw new NetworkError(String(error));
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    }
    if (!response.ok) throw new WriteError(response.status, data);
    return {
      status: response.status,
      etag: response.headers.get("ETag"),
      location: response.headers.get("Location"),
      body: data,
    };
  }

  return {
    read: (layerId, id) => send("GET", `${item(layerId, id)}?f=json`),
    create: (layerId, feature) => send("POST", items(layerId), { body: feature }),
    patch: (layerId, id, changes, etag) => send("PATCH", item(layerId, id), { body: changes, etag }),
    remove: (layerId, id, etag) => send("DELETE", item(layerId, id), { etag }),
    validate: (layerId, feature) =>
      send("POST", `/edit/validate/${encodeURIComponent(layerId)}`, { body: feature }),
    history: (layerId, id) => send("GET", `${item(layerId, id)}/history`),
    restore: (layerId, id, version, etag) =>
      send("POST", `${item(layerId, id)}/restore`, { body: { version }, etag }),
  };
}

// A created feature's id, from the body or else from the Location header.
export function featureId(answer) {
  const id = answer.body?.id ?? answer.body?.properties?.id;
  if (id !== undefined && id !== null) return id;
  const last = (answer.location || "").split("?")[0].split("/").filter(Boolean).pop();
  return last ? decodeURIComponent(last) : null;
}
