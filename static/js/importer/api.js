// The import endpoints: upload a file, read it with the chosen options,
// then run the import (dry or for real). Every failure becomes an
// ImportError carrying the server's {code, description}.

import { currentLang } from "../i18n.js";

const POLL_MS = 400;

export class ImportError extends Error {
  constructor(status, body, { network = false } = {}) {
    super(body?.description || body?.code || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || null;
    this.network = network;
  }
}

export function createImportApi(config) {
  const csrfToken = config.csrfToken || "";

  async function send(url, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken };
    // FormData sets its own multipart Content-Type with the boundary.
    if (!(body instanceof FormData)) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers,
        body: body instanceof FormData ? body : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      throw new ImportError(0, { description: String(error) }, { network: true });
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) throw new ImportError(response.status, data);
    return data || {};
  }

  const at = (upload, action) => `/import/${encodeURIComponent(upload)}/${action}`;

  async function job(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
    } catch (error) {
      throw new ImportError(0, { description: String(error) }, { network: true });
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ImportError(response.status, data);
    return data;
  }

  // A real import, or an undo, runs on the server beside the request:
  // follow its job until it ends, telling `onProgress` how far it got.
  async function follow(started, onProgress) {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const state = await job(started.status);
      if (state.state === "done") return state.report;
      if (state.state === "failed") throw new ImportError(422, { code: "ImportFailed", description: state.error });
      onProgress(state);
    }
  }

  return {
    upload: (file) => {
      const form = new FormData();
      form.append("file", file, file.name);
      return send("/import/upload", form);
    },
    inspect: (upload, options) => send(at(upload, "inspect"), options),
    run: (upload, options) => send(at(upload, "run"), options),
    runInBackground: async (upload, options, onProgress) =>
      follow(await send(at(upload, "run"), { ...options, background: true }), onProgress),
    undo: async (importId, onProgress) =>
      follow(await send(`/import/log/${encodeURIComponent(importId)}/undo`, { background: true }), onProgress),
    recent: () => job("/import/log"),
    // Every row the upload's last run rejected, in the page's language.
    rejectedUrl: (upload) => `${at(upload, "rejected.csv")}?lang=${encodeURIComponent(currentLang())}`,
  };
}
