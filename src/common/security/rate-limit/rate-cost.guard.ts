import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppConfig } from '../../../config/app-config.js';
import { budgetOf } from './rate-limiter.js';

const RATE_COST = 'rateCost';

/** A route's cost in rate-limit units, from the request as parsed (the body is not validated yet). */
export type CostOf = (req: Request, config: AppConfig) => number;

/**
 * Declares what a request to the route costs in rate-limit units (default 1). The unit is one
 * caption variation drafted; a request that drafts nothing costs 1.
 */
export const RateCost = (cost: CostOf) => SetMetadata(RATE_COST, cost);

/** A count from a client's value: a whole number within [min, max], `fallback` when absent or not a number. */
export function countOf(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(n)));
}

/**
 * Charges a route's `@RateCost` beyond the unit every request paid at the door. Runs after
 * routing and body parsing, before validation, so a request is refused before any work starts.
 */
@Injectable()
export class RateCostGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const cost = this.reflector.getAllAndOverride<CostOf | undefined>(RATE_COST, [context.getHandler(), context.getClass()]);
    if (!cost) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const budget = budgetOf(req);
    if (!budget) return true;
    const total = Math.max(1, cost(req, this.config));
    await budget.charge(total - 1, total);
    return true;
  }
}
