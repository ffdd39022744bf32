import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { defer, map, type Observable } from 'rxjs';
import { ApiError, type ErrorDetail } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { HistoryService } from '../history/history.service.js';
import type { NewHistoryRow } from '../history/history.types.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { ChunkSource } from '../lazy-loader/lazy-loader.types.js';
import type { CaptionGenerationRequest } from './dto/caption-generation-request.dto.js';
import type { CaptionGenerationResponse, CaptionStreamItem, CaptionVariation } from './dto/caption-generation-response.dto.js';
import { CaptionEngine } from './engine/caption-engine.js';
import { variationSource } from './variation-source.js';
import { API_VERSION } from '../common/domain/api-version.js';

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Skip the loader's cached copy (client sent `Cache-Control: no-cache`); the fresh result replaces it. */
  bypassCache?: boolean;
}

export interface StreamOptions {
  signal: AbortSignal;
  /** Backpressure: awaited before each item (the response stream's `ready`). */
  ready?: () => Promise<void>;
}

/**
 * Captions: a request's variations are a chunked source read through the lazy loader (so a
 * repeated request is served from its tiers and a stream drafts at most `prefetch_chunks` ahead
 * of the client); every variation drafted is stored in the history.
 */
@Injectable()
export class CaptionsService {
  constructor(
    private readonly engine: CaptionEngine,
    private readonly loader: LazyLoaderService,
    private readonly history: HistoryService,
    private readonly config: AppConfig,
  ) {}

  /** The engine's name and version (`model_used`). */
  get modelName(): string {
    return this.engine.name;
  }

  /**
   * Throws 422 naming each field that breaks a platform rule (a `hashtag_count` over the
   * configured `HASHTAG_LIMIT`, whether hashtags are on or not) or that the engine cannot serve
   * (an unsupported language, a `max_length` too short for the hashtags). Every way a caption
   * request comes in calls it: before the first byte of a stream, and for each batch item before
   * it is drafted.
   */
  assertSupported(request: CaptionGenerationRequest): void {
    const problems = [...this.platformProblems(request), ...this.engine.check(request)];
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
    const count = request.variation_count;
    const source = this.sourceFor(request, requestId, count);
    // The chunk ids are `<key>:<chunkSize>:<index>`: the trailing colon keeps `…:1` from matching `…:10`.
    if (opts.bypassCache) await this.loader.invalidate(`${source.key}:`);
    const chunkSize = source.chunkSize!;
    const variations: CaptionVariation[] = [];
    let cacheHit = true;
    for (let index = 0; index * chunkSize < count; index++) {
      const chunk = await this.loader.getChunk(source, index, { signal: opts.signal });
      variations.push(...chunk.items);
      cacheHit &&= chunk.tier !== 'source';
    }
    const best = variations.reduce((b, v, i) => (v.quality_score > variations[b]!.quality_score ? i : b), 0);
    const average = variations.reduce((sum, v) => sum + v.quality_score, 0) / variations.length;
    return {
      request_id: requestId,
      variations,
      processing_time: (performance.now() - started) / 1000,
      cache_hit: cacheHit,
      model_used: this.engine.name,
      confidence_score: this.engine.confidence(request, variations),
      best_variation_index: best,
      average_quality_score: Math.round(average * 10) / 10,
      generated_at: new Date().toISOString(),
      api_version: API_VERSION,
      optimization_level: request.optimization_level,
    };
  }

  /**
   * `count` variations as they are made, as stream items. Cold: nothing is
   * drafted before subscribe; generation stops when `signal` aborts or the subscriber leaves.
   */
  streamVariations(request: CaptionGenerationRequest, count: number, opts: StreamOptions): Observable<CaptionStreamItem> {
    this.assertSupported(request);
    const source = this.sourceFor(request, request.request_id ?? randomUUID(), count);
    return defer(() => {
      const started = performance.now();
      return this.loader.streamItems(source, { signal: opts.signal, ready: opts.ready }).pipe(
        map(
          (v, index): CaptionStreamItem => ({
            variation_index: index,
            caption: v.caption,
            hashtags: v.hashtags,
            quality_score: v.quality_score,
            processing_time: (performance.now() - started) / 1000,
            timestamp: Date.now() / 1000,
          }),
        ),
      );
    });
  }

  private sourceFor(request: CaptionGenerationRequest, requestId: string, count: number): ChunkSource<CaptionVariation> {
    return variationSource(this.engine, request, count, (variations) => this.recordVariations(request, requestId, variations));
  }

  /**
   * Stores drafted variations in the caption history, with their request's fields (one
   * transaction). Used for every generation, and by batch for its regenerations.
   */
  async recordVariations(request: CaptionGenerationRequest, requestId: string, variations: CaptionVariation[]): Promise<void> {
    const rows: NewHistoryRow[] = variations.map((v) => ({
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
    await this.history.record(rows);
  }
}
