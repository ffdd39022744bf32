import { Injectable } from '@nestjs/common';
import { CaptionsService } from '../captions/captions.service.js';
import type { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../captions/dto/caption-generation-response.dto.js';
import type { BatchDraft } from './batch.types.js';

const best = (variations: CaptionVariation[]): CaptionVariation =>
  variations.reduce((b, v) => (v.quality_score > b.quality_score ? v : b));

const toDraft = (v: CaptionVariation): BatchDraft => ({ caption: v.caption, hashtags: v.hashtags, quality_score: v.quality_score });

/**
 * Drafts a batch item's caption through the captions service, the same path as `POST /captions`
 * for every attempt: engine checks, the lazy loader (cached, coalesced, cancellable), the
 * generation metric and the history rows. So every variation a batch makes is counted once and is
 * in the history.
 */
@Injectable()
export class BatchDrafter {
  constructor(private readonly captions: CaptionsService) {}

  /**
   * Throws the 422 `POST /captions` would answer for `request` (a `hashtag_count` over the
   * server's limit, a language the engine cannot write…).
   */
  assertSupported(request: CaptionGenerationRequest): void {
    this.captions.assertSupported(request);
  }

  /**
   * The best variation of `request` for one attempt. Attempt 0 is a normal generation; attempt
   * n > 0 is regeneration round n: the next `variation_count` variations, which differ in structure
   * from the earlier ones, for the same `request_id`. Stops when `signal` aborts.
   * @throws ApiError 422 when the engine cannot serve the request (a failed item).
   */
  async draft(request: CaptionGenerationRequest, attempt: number, signal: AbortSignal): Promise<BatchDraft> {
    if (attempt === 0) {
      const response = await this.captions.generate(request, { signal });
      return toDraft(response.variations[response.best_variation_index] ?? best(response.variations));
    }
    return toDraft(best(await this.captions.regenerate(request, attempt, { signal })));
  }
}
