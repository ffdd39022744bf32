/** The API's version: the OpenAPI document's `info.version` and every response's `api_version`. */
export const API_VERSION = '14.0.0' as const;
