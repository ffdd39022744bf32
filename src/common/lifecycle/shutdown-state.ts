import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { errorBody } from '../errors/error-body.js';
import { requestIdOf } from '../http/request-id.js';

/**
 * - `running`: normal service.
 * - `draining`: a signal came; readiness answers 503 so the load balancer takes the pod out,
 *   but every request is still served (for `SHUTDOWN_DELAY_MS`).
 * - `closing`: the server accepts no connections; a request that arrives on a keep-alive
 *   connection that has already served one gets 503 `not_ready`; in-flight ones finish, and so
 *   does the first request of a connection accepted before the listener closed.
 */
export type ShutdownPhase = 'running' | 'draining' | 'closing';

/** Where the process is in its graceful shutdown; read by the probes and the HTTP edge. */
@Injectable()
export class ShutdownState {
  private current: ShutdownPhase = 'running';

  get phase(): ShutdownPhase {
    return this.current;
  }

  get shuttingDown(): boolean {
    return this.current !== 'running';
  }

  /** Moves forward only (running → draining → closing). */
  enter(phase: Exclude<ShutdownPhase, 'running'>): void {
    if (phase === 'closing' || this.current === 'running') this.current = phase;
  }
}

/**
 * Express middleware: once shutdown begins, every response says `Connection: close` (clients
 * reconnect, to another pod); once the server is closing, a request on a reused keep-alive
 * connection gets 503 `not_ready` (its client can retry elsewhere). The first request of a
 * connection is still served: the listener accepted that connection before it closed, and the
 * client had no way to know. `alwaysServed` (liveness) keeps answering: the process is still alive.
 */
export function shutdownGateMiddleware(state: ShutdownState, alwaysServed: readonly string[]): RequestHandler {
  const open = new Set(alwaysServed);
  // Connections that have carried a request: a weak set, so a closed socket leaves it with its request.
  const used = new WeakSet<object>();
  return (req: Request, res: Response, next: NextFunction) => {
    const reused = used.has(req.socket);
    used.add(req.socket);
    const phase = state.phase;
    if (phase === 'running') return next();
    res.setHeader('Connection', 'close');
    if (phase === 'draining' || open.has(req.path) || !reused) return next();
    res.status(503).json(
      errorBody(
        { status: 503, code: 'not_ready', message: 'The server is shutting down', unexpected: false },
        requestIdOf(req),
      ),
    );
  };
}
