import type { Type } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { METHOD_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';

/** A route's handler and the classes its query and body are validated as. */
export interface RouteHandler {
  controller: Type;
  method: string;
  query?: Type;
  body?: Type;
}

type ArgsMetadata = Record<string, { index: number; data?: unknown }>;

/**
 * Every route handler of the app, by the operation id Nest's document gives it by default
 * (`Controller_method`), with the DTO classes of its `@Query()` and `@Body()`: the document's
 * parameters and bodies are stated from those classes' validation rules.
 */
export function routeHandlers(app: INestApplication): Map<string, RouteHandler> {
  const out = new Map<string, RouteHandler>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller) continue;
      const proto = controller.prototype as Record<string, unknown>;
      for (const method of Object.getOwnPropertyNames(proto)) {
        if (method === 'constructor' || typeof proto[method] !== 'function') continue;
        if (Reflect.getMetadata(METHOD_METADATA, proto[method]) === undefined) continue;
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as ArgsMetadata;
        const types = (Reflect.getMetadata('design:paramtypes', proto, method) ?? []) as Type[];
        const classOf = (kind: RouteParamtypes): Type | undefined => {
          for (const [key, arg] of Object.entries(args)) {
            if (key.split(':')[0] !== String(kind) || arg.data !== undefined) continue;
            const type = types[arg.index];
            if (type && type !== Object && type !== String) return type;
          }
          return undefined;
        };
        out.set(`${controller.name}_${method}`, { controller, method, query: classOf(RouteParamtypes.QUERY), body: classOf(RouteParamtypes.BODY) });
      }
    }
  }
  return out;
}
