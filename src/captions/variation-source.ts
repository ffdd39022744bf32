import { createHash } from 'node:crypto';
import type { ChunkSource } from '../lazy-loader/lazy-loader.types.js';
import { captionGenerations } from './captions.metrics.js';
import type { CaptionGenerationRequest } from './dto/caption-generation-request.dto.js';
import type { CaptionVariation } from './dto/caption-generation-response.dto.js';
import type { CaptionEngine, FallbackReason } from './engine/caption-engine.js';
import { canonicalJson } from './engine/seeded-random.js';

/** Cache namespace of every caption source: a prefix to invalidate them all. */
export const CAPTIONS_KEY_PREFIX = 'captions:';

/** Which variations of a request a source holds: `count` of them, from round `round` (0: the first ones). */
export interface VariationRange {
  count: number;
  /** Round n holds the engine's variations n·count … n·count + count − 1 (a regeneration); 0 by default. */
  round?: number;
}

/**
 * A variation as the source holds it (and the loader caches it): when another engine than the
 * source's wrote it (the offline engine standing in for the LLM), who did and why. The service
 * takes these two fields off before answering.
 */
export interface SourcedVariation extends CaptionVariation {
  drafted_by?: string;
  fallback_reason?: FallbackReason;
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
 * variations [i·size, i·size+size) up to `count` (engine indexes offset by `round · count`), where
 * size is the engine's `draftSize` (one LLM call, or five in-memory drafts). Each chunk is drafted
 * only when it is loaded and stops as soon as `signal` aborts; every variation made is counted and
 * handed to `onGenerated` (the history) before the chunk is returned.
 */
export function variationSource(
  engine: CaptionEngine,
  request: CaptionGenerationRequest,
  { count, round = 0 }: VariationRange,
  onGenerated: (variations: CaptionVariation[]) => Promise<void>,
): ChunkSource<SourcedVariation> {
  const first = round * count;
  // Drafting is CPU work on one thread (or one model): chunks the loader prefetches are drafted one
  // after the other, in the order asked, so chunk 0 is never slowed by chunks drafted ahead of the reader.
  let previous: Promise<unknown> = Promise.resolve();
  const draftChunk = async (index: number, chunkSize: number, signal: AbortSignal): Promise<SourcedVariation[]> => {
    const start = index * chunkSize;
    const n = Math.max(0, Math.min(count, start + chunkSize) - start);
    if (n === 0) return [];
    const drafted: CaptionVariation[] = [];
    const stored = (variations: CaptionVariation[], model: string) => {
      captionGenerations.inc({ engine: model }, variations.length);
      return onGenerated(variations);
    };
    try {
      const drafts = await engine.draftVariations(request, { first: first + start, count: n }, signal, drafted);
      if (drafts.variations.length > 0) await stored(drafts.variations, drafts.model);
      if (drafts.model === engine.name && !drafts.fallback_reason) return drafts.variations;
      return drafts.variations.map((v) => ({ ...v, drafted_by: drafts.model, ...(drafts.fallback_reason ? { fallback_reason: drafts.fallback_reason } : {}) }));
    } catch (err) {
      // Drafts made before a cancellation are still stored: every generated variation is.
      if (drafted.length > 0) await stored(drafted, engine.name).catch(() => undefined);
      throw err;
    }
  };
  return {
    key: variationKey(engine.cacheName, request, count, round),
    chunkSize: engine.draftSize,
    loadChunk(index, { chunkSize, signal }) {
      const turn = previous.then(() => draftChunk(index, chunkSize, signal));
      previous = turn.catch(() => undefined);
      return turn;
    },
  };
}
