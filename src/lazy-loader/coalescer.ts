import { abortReason } from './load-errors.js';

interface Flight {
  promise: Promise<unknown>;
  controller: AbortController;
  waiters: number;
  detached: boolean;
}

/** What a coalesced piece of work sees. */
export interface FlightContext {
  /** Aborts when every caller waiting for this work has gone away. */
  signal: AbortSignal;
  /** True once `detach()` matched this work (its result must not be cached). */
  detached(): boolean;
}

/**
 * One in-flight promise per key: concurrent callers of the same key share one run of the work.
 * Each caller may leave (its own `signal`); the work itself is aborted only when the last one
 * leaves, so nothing keeps loading for nobody, and one impatient caller never cancels the others.
 */
export class Coalescer {
  private readonly flights = new Map<string, Flight>();

  /** Work currently running. */
  get size(): number {
    return this.flights.size;
  }

  has(key: string): boolean {
    return this.flights.has(key);
  }

  /**
   * Runs `work` for `key`, or joins the run already in flight.
   * @throws the signal's reason when `signal` aborts first (the shared run continues for others).
   */
  run<T>(key: string, work: (ctx: FlightContext) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    let flight = this.flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      const f: Flight = { promise: Promise.resolve(), controller, waiters: 0, detached: false };
      f.promise = Promise.resolve()
        .then(() => work({ signal: controller.signal, detached: () => f.detached }))
        .finally(() => {
          if (this.flights.get(key) === f) this.flights.delete(key);
        });
      // Callers that left still hold a rejected promise: never an unhandled rejection.
      f.promise.catch(() => undefined);
      this.flights.set(key, f);
      flight = f;
    }
    return this.wait(key, flight, signal) as Promise<T>;
  }

  private wait(key: string, flight: Flight, signal?: AbortSignal): Promise<unknown> {
    flight.waiters++;
    if (!signal) return flight.promise;
    return new Promise((resolve, reject) => {
      const leave = () => {
        reject(abortReason(signal));
        if (--flight.waiters === 0) {
          if (this.flights.get(key) === flight) this.flights.delete(key);
          flight.controller.abort(abortReason(signal));
        }
      };
      signal.addEventListener('abort', leave, { once: true });
      flight.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', leave));
    });
  }

  /** Detaches in-flight work whose key starts with `prefix`: later callers start afresh. */
  detach(prefix: string): void {
    for (const [key, flight] of this.flights) {
      if (key.startsWith(prefix)) {
        flight.detached = true;
        this.flights.delete(key);
      }
    }
  }
}
