/** The API's major version: a breaking change raises it, and with it the base path (`/api/v14/lazy`). */
export const API_MAJOR_VERSION = 14;

/** The API's version: the OpenAPI document's `info.version` and every response's `api_version`. */
export const API_VERSION = `${API_MAJOR_VERSION}.0.0` as const;
