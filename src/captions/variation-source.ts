import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ChunkSource } from '../lazy-loader/lazy-loader.types.js';
import { captionGenerations } from './captions.metrics.js';
import type { CaptionGenerationRequest } from './dto/caption-generation-request.dto.js';
import type { CaptionVariation } from './dto/caption-generation-response.dto.js';
import type { CaptionEngine } from './engine/caption-engine.js';
import { canonicalJson } from './engine/seeded-random.js';

/** Variations per chunk: small, so the first streamed item waits for a few drafts only. */
export const VARIATION_CHUNK_SIZE = 5;

/** Cache namespace of every caption source: a prefix to invalidate them all. */
export const CAPTIONS_KEY_PREFIX = 'captions:';

/** Which variations of a request a source holds: `count` of them, from round `round` (0: the first ones). */
export interface VariationRange {
  count: number;
  /** Round n holds the engine's variations n·count … n·count + count − 1 (a regeneration); 0 by default. */
  round?: number;
}

/**
 * Identifies what the variations depend on: the engine (its `cacheName`), every request field except the count, the
 * count, and the round (round 0 adds nothing). The key of round 0 followed by `:` prefixes every
 * other round's, so invalidating a request's first variations drops its regenerations too.
 */
export function variationKey(engineName: string, request: CaptionGenerationRequest, count: number, round = 0): string {
  const { variation_count: _ignored, ...fields } = request;
  const digest = createHash('sha256').update(canonicalJson(fields)).digest('base64url').slice(0, 32);
  return `${CAPTIONS_KEY_PREFIX}${engineName}:${digest}:${count}${round > 0 ? `:r${round}` : ''}`;
}

/**
 * The variations of one request as a chunked source for the lazy loader: chunk i holds the range's
 * variations [i·5, i·5+5) up to `count` (engine indexes offset by `round · count`). Each variation
 * is drafted only when its chunk is loaded, the loop yields between drafts and stops as soon as
 * `signal` aborts, and every variation made is counted and handed to `onGenerated` (the history)
 * before the chunk is returned.
 */
export function variationSource(
  engine: CaptionEngine,
  request: CaptionGenerationRequest,
  { count, round = 0 }: VariationRange,
  onGenerated: (variations: CaptionVariation[]) => Promise<void>,
): ChunkSource<CaptionVariation> {
  const first = round * count;
  // Drafting is CPU work on one thread: chunks the loader prefetches are drafted one after the
  // other, in the order asked, so chunk 0 is never slowed by chunks drafted ahead of the reader.
  let previous: Promise<unknown> = Promise.resolve();
  const draftChunk = async (index: number, chunkSize: number, signal: AbortSignal): Promise<CaptionVariation[]> => {
    const items: CaptionVariation[] = [];
    try {
      for (let i = index * chunkSize; i < Math.min(count, (index + 1) * chunkSize); i++) {
        // Let the event loop serve the socket (and notice a client that left) between drafts.
        await yieldToLoop();
        signal.throwIfAborted();
        items.push(engine.generate(request, first + i));
        captionGenerations.inc({ engine: engine.name });
      }
    } catch (err) {
      // Drafts made before a cancellation are still stored: every generated variation is.
      if (items.length > 0) await onGenerated(items).catch(() => undefined);
      throw err;
    }
    if (items.length > 0) await onGenerated(items);
    return items;
  };
  return {
    key: variationKey(engine.cacheName, request, count, round),
    chunkSize: VARIATION_CHUNK_SIZE,
    loadChunk(index, { chunkSize, signal }) {
      const turn = previous.then(() => draftChunk(index, chunkSize, signal));
      previous = turn.catch(() => undefined);
      return turn;
    },
  };
}
