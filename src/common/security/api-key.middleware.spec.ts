import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { clientIdentity } from './api-key.middleware.js';

const request = (headers: Record<string, string>, ip = '10.0.0.7') => ({ headers, ip }) as unknown as Request;

describe(clientIdentity.name, () => {
  it('is the API key when keys are on, however it is presented, and never the key itself', () => {
    const bearer = clientIdentity(request({ authorization: 'Bearer secret-one' }), true);
    expect(clientIdentity(request({ 'x-api-key': 'secret-one' }, '10.0.0.8'), true)).toBe(bearer);
    expect(clientIdentity(request({ 'x-api-key': 'secret-two' }), true)).not.toBe(bearer);
    expect(bearer).toMatch(/^key:[0-9a-f]{32}$/);
    expect(bearer).not.toContain('secret');
  });

  it('is the address when keys are off, whatever key is sent', () => {
    expect(clientIdentity(request({ 'x-api-key': 'secret-one' }), false)).toBe('ip:10.0.0.7');
    expect(clientIdentity(request({}, '10.0.0.8'), false)).toBe('ip:10.0.0.8');
  });
});
