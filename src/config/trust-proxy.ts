import { isIP } from 'node:net';

/** What Express's `trust proxy` takes: off, every hop, a hop count, or the proxies' addresses. */
export type TrustProxy = boolean | number | string[];

/** Names Express (proxy-addr) knows for address ranges. */
const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal']);

function validEntry(entry: string): boolean {
  if (NAMED.has(entry)) return true;
  const [addr = '', bits, ...rest] = entry.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * Reads `TRUST_PROXY`: `false` (default: the socket's address is the client), `true` (trust every
 * hop: only behind a proxy that overwrites `X-Forwarded-For`), a hop count (`1`: one proxy in
 * front), or a comma-separated list of proxy addresses and CIDR ranges (`loopback`, `linklocal`
 * and `uniquelocal` name the usual ranges).
 * @returns the value, or an error message naming what is wrong.
 */
export function parseTrustProxy(raw: string | undefined): { value: TrustProxy } | { error: string } {
  const v = (raw ?? 'false').trim().toLowerCase();
  if (['false', 'off', 'no', ''].includes(v)) return { value: false };
  if (['true', 'on', 'yes'].includes(v)) return { value: true };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return hops <= 32 ? { value: hops === 0 ? false : hops } : { error: 'a hop count must be at most 32' };
  }
  const entries = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = entries.filter((e) => !validEntry(e));
  if (entries.length === 0 || bad.length > 0) {
    return { error: `must be false, true, a hop count or a comma-separated list of IP addresses or CIDR ranges (loopback, linklocal, uniquelocal allowed); not ${bad.join(', ') || 'empty'}` };
  }
  return { value: entries };
}
