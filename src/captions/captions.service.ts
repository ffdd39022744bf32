import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { defer, finalize, map, tap, type Observable } from 'rxjs';
import { ApiError, type ErrorDetail } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { HistoryService } from '../history/history.service.js';
import type { NewHistoryRow } from '../history/history.types.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { ChunkSource } from '../lazy-loader/lazy-loader.types.js';
import type { CaptionGenerationRequest } from './dto/caption-generation-request.dto.js';
import type { CaptionGenerationResponse, CaptionStreamItem, CaptionVariation } from './dto/caption-generation-response.dto.js';
import type { CaptionEngine, FallbackReason } from './engine/caption-engine.js';
import { CaptionEngineSelection } from './engine/engine-selection.js';
import { variationSource, type SourcedVariation, type VariationRange } from './variation-source.js';
import { API_VERSION } from '../common/domain/api-version.js';

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Skip the loader's cached copy (client sent `Cache-Control: no-cache`); the fresh result replaces it. */
  bypassCache?: boolean;
  /**
   * False: the variations are not stored in the history here; the caller stores
   * {@link CaptionsService.historyRowsOf} the response itself, in the transaction of a write of
   * its own (a batch job's item result), so a retried item never stores them twice. Default true.
   */
  recordHistory?: boolean;
}

export interface RegenerateOptions {
  /** Stops drafting (and rejects) when it aborts, unless another caller still waits for the same round. */
  signal?: AbortSignal;
}

export interface StreamOptions {
  signal: AbortSignal;
  /** Backpressure: awaited before each item (the response stream's `ready`). */
  ready?: () => Promise<void>;
}

/** Variations read through the loader, and who wrote them. */
interface ReadVariations {
  variations: CaptionVariation[];
  cacheHit: boolean;
  /** `model_used`: the engine (and model) that wrote them; two names, comma-separated, if two did. */
  model: string;
  /** The engine that wrote most of them (its `confidence`). */
  writer: CaptionEngine;
  fallback_reason?: FallbackReason;
}

/**
 * Captions: a request's variations are a chunked source read through the lazy loader (so a
 * repeated request is served from its tiers and a stream drafts at most `prefetch_chunks` ahead
 * of the client); every variation drafted is stored in the history. The engine is chosen per
 * request ({@link CaptionEngineSelection}); variations the offline engine wrote in place of the LLM
 * are served with `fallback_reason` and not kept in the cache under the LLM's name, so the next
 * identical request asks the model again.
 */
@Injectable()
export class CaptionsService {
  constructor(
    private readonly engines: CaptionEngineSelection,
    private readonly loader: LazyLoaderService,
    private readonly history: HistoryService,
    private readonly config: AppConfig,
  ) {}

  /** The name and version of the engine requests go to when nothing goes wrong (`model_used`). */
  get modelName(): string {
    return this.engines.primary.name;
  }

  /**
   * Throws 422 naming each field that breaks a platform rule (a `hashtag_count` over the
   * configured `HASHTAG_LIMIT`, whether hashtags are on or not) or that the engine cannot serve
   * (an unsupported language, a `max_length` too short for the hashtags). Every way a caption
   * request comes in calls it: before the first byte of a stream, and for each batch item before
   * it is drafted.
   */
  assertSupported(request: CaptionGenerationRequest): void {
    const problems = [...this.platformProblems(request), ...this.engines.check(request)];
    if (problems.length > 0) {
      throw new ApiError(422, 'validation_failed', problems.map((p) => `${p.field} ${p.message}`).join('; '), problems);
    }
  }

  /** Rules of the platform the captions are for, whichever engine writes them. */
  private platformProblems(request: CaptionGenerationRequest): ErrorDetail[] {
    const limit = this.config.captions.hashtagLimit;
    // The DTO bounds hashtag_count at 30 for every server; this is the limit this server publishes to.
    if (request.hashtag_count > limit) return [{ field: 'hashtag_count', message: `must not be greater than ${limit} (HASHTAG_LIMIT)` }];
    return [];
  }

  /** `request.variation_count` variations with their scores (`CaptionGenerationResponse`). */
  async generate(request: CaptionGenerationRequest, opts: GenerateOptions = {}): Promise<CaptionGenerationResponse> {
    const started = performance.now();
    this.assertSupported(request);
    const requestId = request.request_id ?? randomUUID();
    const { variations, cacheHit, model, writer, fallback_reason } = await this.readVariations(
      request,
      requestId,
      { count: request.variation_count },
      opts,
    );
    const best = variations.reduce((b, v, i) => (v.quality_score > variations[b]!.quality_score ? i : b), 0);
    const average = variations.reduce((sum, v) => sum + v.quality_score, 0) / variations.length;
    return {
      request_id: requestId,
      variations,
      processing_time: (performance.now() - started) / 1000,
      cache_hit: cacheHit,
      model_used: model,
      ...(fallback_reason ? { fallback_reason } : {}),
      confidence_score: await writer.confidence(request, variations),
      best_variation_index: best,
      average_quality_score: Math.round(average * 10) / 10,
      generated_at: new Date().toISOString(),
      api_version: API_VERSION,
      optimization_level: request.optimization_level,
    };
  }

  /**
   * Round `round` (≥ 1) of new variations for a request: `variation_count` of them, the engine's
   * variations round·count … round·count + count − 1, which differ in structure from every earlier
   * round (a real second try of a deterministic engine). They go the way `generate` does: read
   * through the lazy loader (each round cached under its own key, concurrent reads of one round
   * drafting it once), stopped when `opts.signal` aborts, each variation counted once in
   * `caption_generations_total` and stored in the history under the request's `request_id`.
   * @throws ApiError 422 when the engine cannot serve the request.
   * @throws RangeError when `round` is not an integer ≥ 1 (round 0 is `generate`).
   */
  async regenerate(request: CaptionGenerationRequest, round: number, opts: RegenerateOptions = {}): Promise<CaptionVariation[]> {
    if (!Number.isInteger(round) || round < 1) throw new RangeError(`round must be an integer ≥ 1, got ${round}`);
    this.assertSupported(request);
    const range = { count: request.variation_count, round };
    return (await this.readVariations(request, request.request_id ?? randomUUID(), range, opts)).variations;
  }

  /**
   * `count` variations as they are made, as stream items. Cold: nothing is
   * drafted before subscribe; generation stops when `signal` aborts or the subscriber leaves.
   */
  streamVariations(request: CaptionGenerationRequest, count: number, opts: StreamOptions): Observable<CaptionStreamItem> {
    this.assertSupported(request);
    const { engine, fallback_reason } = this.engines.resolve(request);
    const source = this.sourceFor(engine, request, request.request_id ?? randomUUID(), { count });
    return defer(() => {
      const started = performance.now();
      let fellBack = false;
      return this.loader.streamItems(source, { signal: opts.signal, ready: opts.ready }).pipe(
        tap((v) => (fellBack ||= v.fallback_reason !== undefined)),
        finalize(() => {
          if (fellBack) void this.forget(source.key);
        }),
        map(
          (v, index): CaptionStreamItem => ({
            variation_index: index,
            caption: v.caption,
            hashtags: v.hashtags,
            quality_score: v.quality_score,
            engagement_prediction: v.engagement_prediction,
            readability_score: v.readability_score,
            model_used: v.drafted_by ?? engine.name,
            ...((v.fallback_reason ?? fallback_reason) ? { fallback_reason: v.fallback_reason ?? fallback_reason } : {}),
            processing_time: (performance.now() - started) / 1000,
            timestamp: Date.now() / 1000,
          }),
        ),
      );
    });
  }

  /** Every variation of `range`, chunk by chunk through the loader; `cacheHit` when none was drafted. */
  private async readVariations(
    request: CaptionGenerationRequest,
    requestId: string,
    range: VariationRange,
    opts: GenerateOptions,
  ): Promise<ReadVariations> {
    const resolved = this.engines.resolve(request);
    const source =
      opts.recordHistory === false
        ? variationSource(resolved.engine, request, range, async () => undefined)
        : this.sourceFor(resolved.engine, request, requestId, range);
    // The chunk ids are `<key>:<chunkSize>:<index>`: the trailing colon keeps `…:1` from matching `…:10`.
    if (opts.bypassCache) await this.loader.invalidate(`${source.key}:`);
    const chunkSize = source.chunkSize!;
    const items: SourcedVariation[] = [];
    let cacheHit = true;
    for (let index = 0; index * chunkSize < range.count; index++) {
      const chunk = await this.loader.getChunk(source, index, { signal: opts.signal });
      items.push(...chunk.items);
      cacheHit &&= chunk.tier !== 'source';
    }
    const substitute = items.find((v) => v.fallback_reason !== undefined);
    if (substitute) await this.forget(source.key);
    const writers = [...new Set(items.map((v) => v.drafted_by ?? resolved.engine.name))];
    const writer = substitute && items.every((v) => v.drafted_by !== undefined) ? this.engines.offline : resolved.engine;
    return {
      variations: items.map(({ drafted_by: _by, fallback_reason: _why, ...v }) => v),
      cacheHit,
      model: writers.join(', '),
      writer,
      fallback_reason: resolved.fallback_reason ?? substitute?.fallback_reason,
    };
  }

  /** Drops a source's cached chunks: the offline engine's stand-ins are not kept under the LLM's name. */
  private async forget(key: string): Promise<void> {
    await this.loader.invalidate(`${key}:`).catch(() => undefined);
  }

  private sourceFor(engine: CaptionEngine, request: CaptionGenerationRequest, requestId: string, range: VariationRange): ChunkSource<SourcedVariation> {
    return variationSource(engine, request, range, (variations) => this.recordVariations(request, requestId, variations));
  }

  /** Stores drafted variations in the caption history, with their request's fields (one transaction). */
  private async recordVariations(request: CaptionGenerationRequest, requestId: string, variations: CaptionVariation[]): Promise<void> {
    await this.history.record(this.historyRowsOf(request, requestId, variations));
  }

  /** The history rows of `variations` drafted for `request` (what `generate` stores unless told not to). */
  historyRowsOf(request: CaptionGenerationRequest, requestId: string, variations: CaptionVariation[]): NewHistoryRow[] {
    return variations.map((v) => ({
      user_id: request.user_id ?? null,
      caption: v.caption,
      hashtags: v.hashtags,
      style: request.style,
      audience: request.audience,
      content_type: request.content_type,
      language: request.language,
      quality_score: v.quality_score,
      engagement_score: v.engagement_prediction,
      request_id: requestId,
    }));
  }
}
