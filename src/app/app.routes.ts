import { RequestMethod } from '@nestjs/common';

/** Base path of every route but the root ones below. */
export const API_PREFIX = 'api/v14/lazy';

/** Routes served at the root, outside {@link API_PREFIX}. */
export const ROOT_ROUTES = [
  { path: 'metrics', method: RequestMethod.GET },
  { path: 'docs', method: RequestMethod.GET },
  { path: 'openapi.json', method: RequestMethod.GET },
];

/** Liveness: must answer while the process lives, whatever else is going on. */
export const LIVENESS_PATH = `/${API_PREFIX}/health/live`;

/** Routes that never need an API key: the probes (Kubernetes sends no credentials) and `/metrics`. */
export const PUBLIC_PATHS = [
  `/${API_PREFIX}/health`,
  LIVENESS_PATH,
  `/${API_PREFIX}/health/ready`,
  '/metrics',
];
