/** Shared pieces of the dependency-fault specs (`npm run chaos`): timed requests and a probe watcher. */

export const API = '/api/v14/lazy';

/** One answered (or failed) request, with when it was sent and how long it took. */
export interface Outcome {
  status: number;
  /** 0 when the request failed before any answer (refused, reset, timed out). */
  body: unknown;
  sentAt: number;
  ms: number;
  /** Set when no answer came: the error's name (`TimeoutError` when the client gave up). */
  failure?: string;
}

/**
 * Sends one request with `fetch`, giving up after `timeoutMs` (an answer later than that is a
 * hang for these specs). Never throws: a failure is an {@link Outcome} with status 0.
 */
export async function timed(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, timeoutMs = 10_000): Promise<Outcome> {
  const sentAt = Date.now();
  try {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (metrics text, an empty body): kept as text.
    }
    return { status: res.status, body, sentAt, ms: Date.now() - sentAt };
  } catch (err) {
    return { status: 0, body: null, sentAt, ms: Date.now() - sentAt, failure: (err as Error).name };
  }
}

/**
 * Asks `url` every `everyMs` until stopped, keeping every answer: the spec reads when a probe
 * changed and whether it ever failed. One request at a time, so a slow answer delays the next.
 */
export class Watcher {
  readonly outcomes: Outcome[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly everyMs = 100,
    private readonly timeoutMs = 5_000,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.outcomes.push(await timed(this.url, {}, this.timeoutMs));
      // The pace of the probe, as a kubelet's period: not a wait for an event.
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  /** The first answer sent at or after `since` whose status passes `test`. */
  firstAfter(since: number, test: (status: number) => boolean): Outcome | undefined {
    return this.outcomes.find((o) => o.sentAt >= since && test(o.status));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** Polls `check` every 50 ms until it is true; throws naming `what` after `timeoutMs`. Returns the ms it took. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Prints one figure for the report, prefixed so it is easy to find in the run's output. */
export function figure(name: string, value: unknown): void {
  console.log(`[chaos] ${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}
