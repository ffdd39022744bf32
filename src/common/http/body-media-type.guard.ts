import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../errors/api-error.js';

const BODY_MEDIA_TYPES = 'bodyMediaTypes';
const DEFAULT_TYPES = ['application/json'];

/** Declares the media types a route accepts as its body (default: `application/json`). */
export const BodyMediaTypes = (...types: string[]) => SetMetadata(BODY_MEDIA_TYPES, types);

/** Answers 415 for a request body whose `Content-Type` the route does not take. */
@Injectable()
export class BodyMediaTypeGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return true;
    const allowed =
      this.reflector.getAllAndOverride<string[]>(BODY_MEDIA_TYPES, [context.getHandler(), context.getClass()]) ??
      DEFAULT_TYPES;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (allowed.includes(type)) return true;
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Content-Type must be ${allowed.join(' or ')}${type ? `, not ${type}` : ''}`,
    );
  }
}
