// The REST API as the page uses it: JSON in and out, problem documents (RFC 9457) as errors,
// and the write key, kept in sessionStorage so that it lasts as long as the browser tab.

const KEY_ITEM = "diamonds.write-key";

export const writeKey = {
  get: () => sessionStorage.getItem(KEY_ITEM) || "",
  set: (key) => sessionStorage.setItem(KEY_ITEM, key),
  forget: () => sessionStorage.removeItem(KEY_ITEM),
};

/** An error answer: status, title, detail, and `errors` ({field: JSON pointer, detail}). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The precondition that a stone read at `revision` is still at it (else the API says 412). */
export const unchangedSince = (revision) => ({ "If-Match": `"${revision}"` });

/** Calls the API; resolves to the JSON answer (null for 204), rejects with an ApiError. */
export async function call(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const key = writeKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { title: "No answer", detail: "the server could not be reached" });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let document = null;
  try {
    document = text ? JSON.parse(text) : null;
  } catch {
    document = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, document || { title: response.statusText });
  }
  return document;
}

/** The grades of each graded characteristic, worst first, as the API's schema declares them. */
export async function grades() {
  const document = await call("GET", "/v1/openapi.json");
  const stone = document.components.schemas.Stone.properties;
  return { cut: stone.cut.enum, color: stone.color.enum, clarity: stone.clarity.enum };
}
