import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config.js';
import { parseTrustProxy } from './trust-proxy.js';

describe(parseTrustProxy.name, () => {
  it('is off by default', () => {
    expect(parseTrustProxy(undefined)).toEqual({ value: false });
    expect(loadConfig({}).security.trustProxy).toBe(false);
  });

  it('takes false, true, a hop count, or a list of addresses and CIDR ranges', () => {
    expect(parseTrustProxy('false')).toEqual({ value: false });
    expect(parseTrustProxy('TRUE')).toEqual({ value: true });
    expect(parseTrustProxy('0')).toEqual({ value: false });
    expect(parseTrustProxy('2')).toEqual({ value: 2 });
    expect(parseTrustProxy('loopback, 10.0.0.0/8,192.0.2.1, fd00::/8')).toEqual({ value: ['loopback', '10.0.0.0/8', '192.0.2.1', 'fd00::/8'] });
  });

  it('refuses anything else, naming TRUST_PROXY', () => {
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/1', '::1/129', '1e3', '99']) expect(parseTrustProxy(bad)).toHaveProperty('error');
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/99' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/99' })).toThrow(/TRUST_PROXY/);
  });
});
