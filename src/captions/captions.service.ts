import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { ApiError } from '../common/errors/api-error.js';
import type { CaptionGenerationRequest } from './dto/caption-generation-request.dto.js';
import type { CaptionGenerationResponse, CaptionStreamItem, CaptionVariation } from './dto/caption-generation-response.dto.js';
import { CaptionEngine } from './engine/caption-engine.js';
import { variationSource, type ChunkSource } from './variation-source.js';

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

/** Captions: the engine's variations, loaded through chunked sources, stored in the history. */
@Injectable()
export class CaptionsService {
  constructor(private readonly engine: CaptionEngine) {}

  /** The engine's name and version (`model_used`). */
  get modelName(): string {
    return this.engine.name;
  }

  /**
   * Throws 422 naming each field the engine cannot serve (an unsupported language, a
   * `max_length` too short for the hashtags). Call before the first byte of a stream.
   */
  assertSupported(request: CaptionGenerationRequest): void {
    const problems = this.engine.check(request);
    if (problems.length > 0) {
      throw new ApiError(422, 'validation_failed', problems.map((p) => `${p.field} ${p.message}`).join('; '), problems);
    }
  }

  /** `request.variation_count` variations with their scores (API.md `CaptionGenerationResponse`). */
  async generate(request: CaptionGenerationRequest, opts: GenerateOptions = {}): Promise<CaptionGenerationResponse> {
    const started = performance.now();
    this.assertSupported(request);
    const requestId = request.request_id ?? randomUUID();
    const count = request.variation_count;
    const source = this.sourceFor(request, requestId, count);
    const signal = opts.signal ?? new AbortController().signal;
    const chunkSize = source.chunkSize!;
    const variations: CaptionVariation[] = [];
    let cacheHit = true;
    for (let index = 0; index * chunkSize < count; index++) {
      const chunk = await this.loadChunk(source, index, signal);
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
      api_version: '14.0.0',
      optimization_level: request.optimization_level,
    };
  }

  /**
   * `count` variations as they are made, in the guide's stream item shape. Cold: nothing is
   * drafted before subscribe; generation stops when `signal` aborts or the subscriber leaves.
   */
  streamVariations(request: CaptionGenerationRequest, count: number, opts: StreamOptions): Observable<CaptionStreamItem> {
    this.assertSupported(request);
    const source = this.sourceFor(request, request.request_id ?? randomUUID(), count);
    return new Observable<CaptionStreamItem>((subscriber) => {
      const started = performance.now();
      const controller = new AbortController();
      const stop = () => controller.abort(opts.signal.reason);
      opts.signal.addEventListener('abort', stop, { once: true });
      void (async () => {
        let index = 0;
        for (let chunkIndex = 0; index < count; chunkIndex++) {
          const chunk = await this.loadChunk(source, chunkIndex, controller.signal);
          for (const v of chunk.items) {
            await opts.ready?.();
            if (subscriber.closed || controller.signal.aborted) return;
            subscriber.next({
              variation_index: index++,
              caption: v.caption,
              hashtags: v.hashtags,
              quality_score: v.quality_score,
              processing_time: (performance.now() - started) / 1000,
              timestamp: Date.now() / 1000,
            });
          }
          if (chunk.items.length === 0) break;
        }
        subscriber.complete();
      })()
        .catch((err: unknown) => {
          if (!subscriber.closed && !controller.signal.aborted) subscriber.error(err);
        })
        .finally(() => opts.signal.removeEventListener('abort', stop));
      return () => controller.abort();
    });
  }

  private sourceFor(request: CaptionGenerationRequest, requestId: string, count: number): ChunkSource<CaptionVariation> {
    return variationSource(this.engine, request, count, (variations) => this.record(request, requestId, variations));
  }

  /** Until the lazy loader lands: loads straight from the source (no tiers). */
  private async loadChunk(
    source: ChunkSource<CaptionVariation>,
    index: number,
    signal: AbortSignal,
  ): Promise<{ items: CaptionVariation[]; tier: 'memory' | 'disk' | 'source' }> {
    const items = await source.loadChunk(index, { chunkSize: source.chunkSize!, signal });
    return { items, tier: 'source' };
  }

  /** Stores generated variations in the caption history (wired when the history module lands). */
  private async record(_request: CaptionGenerationRequest, _requestId: string, _variations: CaptionVariation[]): Promise<void> {}
}
