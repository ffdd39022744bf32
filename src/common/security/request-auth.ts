import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { createHash } from 'node:crypto';
import { AppConfig } from '../../config/app-config.js';
import { ApiKeyVerifier, presentedKey } from './api-key.middleware.js';

/**
 * What the HTTP edge knows of a request's caller: whether it presented a valid API key, whether
 * it may see operational figures, and the space its idempotency keys live in.
 */
@Injectable()
export class RequestAuth {
  private readonly verifier: ApiKeyVerifier;

  constructor(private readonly config: AppConfig) {
    this.verifier = new ApiKeyVerifier(config.security.apiKeys);
  }

  /** True when API keys are configured and the request presents a valid one. */
  authenticated(req: Request): boolean {
    return this.verifier.enabled && this.verifier.verify(presentedKey(req));
  }

  /**
   * May see operational figures (memory, disk, heap): an authenticated request; without API keys,
   * any request outside production (there is no one to authenticate), none in production.
   */
  trusted(req: Request): boolean {
    return this.verifier.enabled ? this.authenticated(req) : this.config.env !== 'production';
  }

  /**
   * The space of a caller's idempotency keys: its API key's SHA-256 (so one client can neither
   * replay nor block another's key), or one shared space when the service runs without keys.
   */
  scope(req: Request): string {
    const key = presentedKey(req);
    if (!this.verifier.enabled || key === undefined) return 'anonymous';
    return `key-${createHash('sha256').update(key, 'utf8').digest('base64url').slice(0, 32)}`;
  }
}
