import { RequestMethod } from '@nestjs/common';
import { API_MAJOR_VERSION } from '../common/domain/api-version.js';

/** Base path of every route but the root ones below; it carries the API's major version. */
export const API_PREFIX = `api/v${API_MAJOR_VERSION}/lazy` as const;

/** Routes served at the root, outside {@link API_PREFIX}. */
export const ROOT_ROUTES = [
  { path: 'metrics', method: RequestMethod.GET },
  { path: 'docs', method: RequestMethod.GET },
  { path: 'openapi.json', method: RequestMethod.GET },
];

/** Liveness: must answer while the process lives, whatever else is going on. */
export const LIVENESS_PATH = `/${API_PREFIX}/health/live`;

/** The probes: Kubernetes sends no credentials, and a probe is never rate limited. */
export const PROBE_PATHS = [`/${API_PREFIX}/health`, LIVENESS_PATH, `/${API_PREFIX}/health/ready`];

/** The Prometheus scrape target; it checks its own credentials (`METRICS_TOKEN` or an API key). */
export const METRICS_PATH = '/metrics';

/** Routes the API-key middleware lets through: the probes and `/metrics`. */
export const PUBLIC_PATHS = [...PROBE_PATHS, METRICS_PATH];
