// The import endpoints: upload a file, read it with the chosen options,
// then run the import (dry or for real). Every failure becomes an
// ImportError carrying the server's {code, description}.

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

  return {
    upload: (file) => {
      const form = new FormData();
      form.append("file", file, file.name);
      return send("/import/upload", form);
    },
    inspect: (upload, options) => send(at(upload, "inspect"), options),
    run: (upload, options) => send(at(upload, "run"), options),
  };
}
