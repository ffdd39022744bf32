import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { ApiError } from '../errors/api-error.js';

/** Deeper than any contract payload needs; stops stack-hungry nesting before class-transformer recurses. */
export const MAX_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Runs before validation on bodies and queries: trims every string ("Strings are trimmed
 * before validation"), rejects nesting deeper than {@link MAX_DEPTH} and prototype-polluting keys.
 * Walks iteratively so a hostile body cannot overflow the stack.
 */
@Injectable()
export class SanitizeInputPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' && metadata.type !== 'query') return value;
    if (typeof value === 'string') return value.trim();
    if (typeof value !== 'object' || value === null) return value;
    const stack: Array<{ node: Record<string, unknown> | unknown[]; depth: number; path: string }> = [
      { node: value as Record<string, unknown>, depth: 1, path: '' },
    ];
    while (stack.length > 0) {
      const { node, depth, path } = stack.pop()!;
      if (depth > MAX_DEPTH) {
        throw ApiError.invalid(path || 'body', `must not nest deeper than ${MAX_DEPTH} levels`);
      }
      for (const key of Object.keys(node)) {
        const field = path ? `${path}.${key}` : key;
        if (FORBIDDEN_KEYS.has(key)) throw ApiError.invalid(field, 'is a reserved name');
        const child = (node as Record<string, unknown>)[key];
        if (typeof child === 'string') (node as Record<string, unknown>)[key] = child.trim();
        else if (typeof child === 'object' && child !== null) {
          stack.push({ node: child as Record<string, unknown>, depth: depth + 1, path: field });
        }
      }
    }
    return value;
  }
}
