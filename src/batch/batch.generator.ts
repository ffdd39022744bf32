import { Injectable } from '@nestjs/common';
import { CaptionsService } from '../captions/captions.service.js';
import type { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../captions/dto/caption-generation-response.dto.js';
import { CaptionEngine } from '../captions/engine/caption-engine.js';
import { captionGenerations } from '../common/metrics/metrics.js';
import type { BatchDraft } from './batch-item.js';

const best = (variations: CaptionVariation[]): CaptionVariation =>
  variations.reduce((b, v) => (v.quality_score > b.quality_score ? v : b));

const toDraft = (v: CaptionVariation): BatchDraft => ({ caption: v.caption, hashtags: v.hashtags, quality_score: v.quality_score });

/**
 * The batch's side of the captions and history modules. A first generation goes through
 * `CaptionsService.generate`, the same path as `POST /captions` (engine checks, lazy loader, its
 * history rows); a regeneration asks the engine port for new variations and records them in the
 * history the same way, so every variation a batch makes is in the history.
 */
@Injectable()
export class BatchGenerator {
  constructor(
    private readonly captions: CaptionsService,
    private readonly engine: CaptionEngine,
  ) {}

  /**
   * Throws the 422 `POST /captions` would answer for `request` (a `hashtag_count` over the
   * server's limit, a language the engine cannot write…).
   */
  assertSupported(request: CaptionGenerationRequest): void {
    this.captions.assertSupported(request);
  }

  /**
   * The best variation of `request`. Attempt 0 is a normal generation; attempt n > 0 asks the
   * engine for the next `variation_count` variations (indexes n·count … n·count + count − 1),
   * which differ in structure from the earlier ones: a real second try of a deterministic engine,
   * for the same `request_id`.
   * @throws ApiError 422 when the engine cannot serve the request (a failed item).
   */
  async draft(request: CaptionGenerationRequest, attempt: number, signal: AbortSignal): Promise<BatchDraft> {
    if (attempt === 0) {
      const response = await this.captions.generate(request, { signal });
      return toDraft(response.variations[response.best_variation_index] ?? best(response.variations));
    }
    const count = request.variation_count;
    const variations = Array.from({ length: count }, (_, i) => this.engine.generate(request, attempt * count + i));
    captionGenerations.inc({ engine: this.engine.name }, count);
    await this.captions.recordVariations(request, request.request_id!, variations);
    return toDraft(best(variations));
  }
}
