// `node --import ./scripts/swc-register.mjs some.ts`: runs the TypeScript sources directly, compiled
// by SWC with decorator metadata (as Vitest does), for the tools that need a real process of their
// own without a build: `npm run openapi` and the graceful-shutdown test's child server.
import { register } from 'node:module';

register('./swc-hooks.mjs', import.meta.url);
