// The agent API (/v1/agent/...) relative to where the app is mounted.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
  }
}

export class Api {
  constructor(base, token) {
    this.base = base; // URL of the app's root, ending in "/"
    this.token = token; // an agent API token, or null (the host's own sign-in)
  }

  url(path) {
    return new URL(path.replace(/^\//, ""), this.base).href;
  }

  headers(extra = {}) {
    const headers = { Accept: "application/json", ...extra };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  async request(method, path, body, { raw = false, contentType } = {}) {
    const options = { method, headers: this.headers(), credentials: "same-origin" };
    if (body !== undefined) {
      if (raw) {
        options.body = body;
        options.headers["Content-Type"] = contentType || "application/octet-stream";
      } else {
        options.body = JSON.stringify(body);
        options.headers["Content-Type"] = "application/json";
      }
    }
    const response = await fetch(this.url(path), options);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }
  post(path, body = {}) {
    return this.request("POST", path, body);
  }
  put(path, body = {}) {
    return this.request("PUT", path, body);
  }

  /** A blob: URL of a file, fetched with the agent's credentials (images shown inline). */
  async blobUrl(path) {
    const response = await fetch(this.url(path), {
      headers: this.headers({ Accept: "*/*" }),
      credentials: "same-origin",
    });
    if (!response.ok) throw new ApiError(response.status, null);
    return URL.createObjectURL(await response.blob());
  }
}
