import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  DEFAULT_LEASE_MS,
  FULL_RETRY_GUESS_MS,
  IdempotencyRecords,
  type FinishedRecord,
  type IdempotencyRecord,
  type RecordClaim,
  type RecordsOptions,
  type RecordsUsage,
} from './idempotency-records.js';

/**
 * One script for every operation, so each is atomic across instances. It first expires the
 * accounting of records whose time is over (Redis drops the records themselves: a finished one at
 * its TTL, a running one when its lease ran out), then:
 * - claim: returns the record if one exists, `full` when the reservation does not fit, else
 *   writes a running record owned by `owner` for the lease and charges the reservation;
 * - renew: extends the lease of `owner`'s running record (`lost` when the key is not its own);
 * - complete / release: unless another owner holds the key, takes the key's charge back, then
 *   writes the finished record and charges its size (complete) or deletes the record (release);
 * - usage: the bytes charged and the number of records.
 * KEYS: record, sizes (hash member → bytes), expiry (zset member → expires at), used (counter).
 * ARGV: op, now (ms), member, ttl (ms), bytes, max bytes, record JSON, owner, lease (ms).
 */
const SCRIPT = `
local now = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, m in ipairs(expired) do
  used = used - tonumber(redis.call('HGET', KEYS[2], m) or '0')
  redis.call('HDEL', KEYS[2], m)
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local op, member, ttl, bytes, owner, lease = ARGV[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[8], tonumber(ARGV[9])
local function ownerOf(raw)
  if not raw then return nil end
  local rec = cjson.decode(raw)
  if rec.state == 'running' then return rec.owner end
  return nil
end
local result = {'ok'}
if op == 'claim' then
  local existing = redis.call('GET', KEYS[1])
  if existing then
    result = {'exists', existing}
  elseif used + bytes > tonumber(ARGV[6]) then
    local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    result = {'full', first[2] or ''}
  else
    redis.call('SET', KEYS[1], ARGV[7], 'PX', lease)
    redis.call('HSET', KEYS[2], member, bytes)
    redis.call('ZADD', KEYS[3], now + lease, member)
    used = used + bytes
    result = {'claimed'}
  end
elseif op == 'renew' then
  if ownerOf(redis.call('GET', KEYS[1])) == owner then
    redis.call('PEXPIRE', KEYS[1], lease)
    redis.call('ZADD', KEYS[3], now + lease, member)
  else
    result = {'lost'}
  end
elseif op == 'complete' or op == 'release' then
  local current = redis.call('GET', KEYS[1])
  local holder = ownerOf(current)
  if (current and holder ~= owner) or (not current and op == 'release') then
    result = {'lost'}
  else
    used = used - tonumber(redis.call('HGET', KEYS[2], member) or '0')
    redis.call('HDEL', KEYS[2], member)
    redis.call('ZREM', KEYS[3], member)
    if op == 'complete' then
      redis.call('SET', KEYS[1], ARGV[7], 'PX', ttl)
      redis.call('HSET', KEYS[2], member, bytes)
      redis.call('ZADD', KEYS[3], now + ttl, member)
      used = used + bytes
    else
      redis.call('DEL', KEYS[1])
    end
  end
elseif op == 'usage' then
  result = {'usage', tostring(math.max(used, 0)), tostring(redis.call('ZCARD', KEYS[3]))}
end
if used < 0 then used = 0 end
redis.call('SET', KEYS[4], tostring(used))
return result
`;

export interface RedisRecordsOptions extends RecordsOptions {
  /** Key prefix; a `{hash tag}` keeps every key of the store in one cluster slot. */
  prefix?: string;
}

/**
 * The store in Redis, shared by every instance on it (`REDIS_URL`), with the same rules as
 * the in-process one: a byte budget across all instances, reservations at claim, nothing evicted
 * before its TTL. A running record lives for its lease, renewed by its run: the key of an
 * instance that died mid-run is free again within the lease. Redis must not evict keys itself (`maxmemory-policy noeviction`): a record
 * Redis dropped would let a repeat run again; a warning is logged at start when it can.
 */
export class RedisIdempotencyRecords extends IdempotencyRecords {
  private readonly logger = new Logger('IdempotencyRecords');
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(
    private readonly client: Redis,
    private readonly options: RedisRecordsOptions,
  ) {
    super();
    this.prefix = options.prefix ?? '{captions:idempotency}';
    this.now = options.now ?? (() => Date.now());
  }

  /** Checks once that Redis will not evict records (a warning when it may). */
  start(): this {
    // Floating on purpose: warnIfEvicting never rejects, and the check must not delay the start.
    if (this.client.status === 'ready') void this.warnIfEvicting();
    else this.client.once('ready', () => void this.warnIfEvicting());
    return this;
  }

  async claim(key: string, reserveBytes: number, owner: string): Promise<RecordClaim> {
    const now = this.now();
    const reply = await this.run('claim', key, now, reserveBytes, JSON.stringify({ state: 'running', owner }), owner);
    if (reply[0] === 'claimed') return { kind: 'claimed' };
    if (reply[0] === 'exists') {
      const stored = JSON.parse(reply[1]!) as IdempotencyRecord & { owner?: string };
      return { kind: 'exists', record: stored.state === 'running' ? { state: 'running' } : stored };
    }
    const next = Number(reply[1]);
    return { kind: 'full', retryAfterMs: reply[1] ? Math.max(1, next - now) : FULL_RETRY_GUESS_MS };
  }

  async renew(key: string, owner: string): Promise<boolean> {
    return (await this.run('renew', key, this.now(), 0, '', owner))[0] === 'ok';
  }

  async complete(key: string, owner: string, record: FinishedRecord, bytes: number): Promise<void> {
    await this.run('complete', key, this.now(), bytes, JSON.stringify(record), owner);
  }

  async release(key: string, owner: string): Promise<void> {
    await this.run('release', key, this.now(), 0, '', owner);
  }

  async usage(): Promise<RecordsUsage> {
    const reply = await this.run('usage', '', this.now(), 0, '');
    return { bytes: Number(reply[1]), records: Number(reply[2]), maxBytes: this.options.maxBytes };
  }

  /** Nothing to do: the connection is shared and closed with the application. */
  async close(): Promise<void> {}

  private async run(op: string, member: string, now: number, bytes: number, record: string, owner = ''): Promise<string[]> {
    const p = this.prefix;
    const reply = await this.client.eval(
      SCRIPT,
      4,
      `${p}:rec:${member}`,
      `${p}:sizes`,
      `${p}:expiry`,
      `${p}:used`,
      op,
      String(now),
      member,
      String(this.options.ttlMs),
      String(bytes),
      String(this.options.maxBytes),
      record,
      owner,
      String(this.options.leaseMs ?? DEFAULT_LEASE_MS),
    );
    return (reply as unknown[]).map(String);
  }

  private async warnIfEvicting(): Promise<void> {
    try {
      const reply = await this.client.config('GET', 'maxmemory-policy');
      const policy = reply[1];
      if (policy && policy !== 'noeviction') {
        this.logger.warn(`Redis maxmemory-policy is ${policy}: Redis may drop idempotency records before their TTL; noeviction is required`);
      }
    } catch {
      // CONFIG is often disabled on managed Redis: nothing to check then.
    }
  }
}
