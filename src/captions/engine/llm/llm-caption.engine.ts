import { createHash } from 'node:crypto';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import type { CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import { LANGUAGES, type Language } from '../../dto/caption-options.js';
import { CaptionEngine, type DraftRange, type Drafts, type FallbackReason, type RequestProblem } from '../caption-engine.js';
import { loadNlpLibraries } from '../nlp-libraries.js';
import { canonicalJson } from '../seeded-random.js';
import { checkDraft, HASHTAG_SEPARATOR, MIN_CAPTION_CHARS, parseReply, type CheckedDraft } from './draft-check.js';
import { LlmClient, type LlmClientOptions } from './llm-client.js';
import { fallbackReasonOf, InvalidOutputError, isOutage, LlmTimeoutError } from './llm-errors.js';
import { messages, PROMPT_VERSION } from './llm-prompt.js';
import { captionFallbacks, llmCircuitOpen, llmRequestDuration, llmRequests, llmTokens } from './llm.metrics.js';
import { keyTermsOf, scoreDraft } from './llm-scoring.js';
import { charCount } from '../text-analysis.js';

export interface LlmEngineOptions extends LlmClientOptions {
  /** Everything one draft may take: attempts, backoff and the one redraft. */
  totalTimeoutMs: number;
  /** Consecutive failed drafts (timeouts, 429/5xx after retries, network) that open the breaker. */
  breakerThreshold: number;
  /** How long the breaker stays open before one request tries the model again. */
  breakerCooldownMs: number;
  hashtagBlocklist: readonly string[];
  /** The configured `HASHTAG_LIMIT`. */
  maxHashtags: number;
  /** Writes the variations when the model cannot (the offline engine); languages it lacks get no fallback. */
  fallback?: CaptionEngine;
}

/** Drafts per call: one call covers a whole `POST /captions` (at most 10 variations). */
const DRAFT_SIZE = 10;
const VERSION = '1.0.0';

/**
 * Captions from a language model behind an OpenAI-compatible chat-completions endpoint. One call
 * drafts a range of variations as structured output; each draft is checked against the request
 * and repaired, or the missing ones are drafted once more; when that fails too, or the model is
 * down (timeouts, 429/5xx after the retries, the circuit breaker open), the offline engine writes
 * them and the result says why (`fallback_reason`). The user's text reaches the model only inside
 * the user message, as JSON data.
 */
export class LlmCaptionEngine extends CaptionEngine {
  readonly name: string;
  readonly languages: readonly Language[] = LANGUAGES;
  private readonly client: LlmClient;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly blocked: ReadonlySet<string>;
  private readonly settingsDigest: string;
  private openedAt = 0;

  constructor(private readonly options: LlmEngineOptions) {
    super();
    this.name = `llm-engine@${VERSION}:${options.model}`;
    this.client = new LlmClient(options);
    this.blocked = new Set(options.hashtagBlocklist);
    this.breaker = circuitBreaker(handleWhen(isOutage), {
      halfOpenAfter: options.breakerCooldownMs,
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
    });
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      llmCircuitOpen.set({ model: options.model }, 1);
    });
    this.breaker.onReset(() => llmCircuitOpen.set({ model: options.model }, 0));
    llmCircuitOpen.set({ model: options.model }, 0);
    // Whatever changes the text of the same request: the server and model, the prompt, the sampling, the rules.
    this.settingsDigest = createHash('sha256')
      .update(
        canonicalJson({
          baseUrl: options.baseUrl,
          model: options.model,
          prompt: PROMPT_VERSION,
          temperature: options.temperature,
          format: options.responseFormat,
          blocklist: [...options.hashtagBlocklist].sort(),
          limit: options.maxHashtags,
        }),
      )
      .digest('base64url')
      .slice(0, 12);
  }

  override get cacheName(): string {
    return `${this.name}+${this.settingsDigest}`;
  }

  override get draftSize(): number {
    return DRAFT_SIZE;
  }

  /** The offline engine this one falls back to, if any. */
  get fallback(): CaptionEngine | undefined {
    return this.options.fallback;
  }

  /**
   * True while the breaker is open and its cooldown runs: requests should go straight to the
   * offline engine. Once the cooldown is over this is false again, so one request tries the model.
   */
  get circuitOpen(): boolean {
    return this.breaker.state === CircuitState.Open && Date.now() - this.openedAt < this.options.breakerCooldownMs;
  }

  /** Whole seconds until the open breaker lets one request try the model again (at least 1). */
  get cooldownLeftSeconds(): number {
    return Math.max(1, Math.ceil((this.openedAt + this.options.breakerCooldownMs - Date.now()) / 1000));
  }

  /** Whether the offline engine can stand in for this request's language. */
  canFallBack(request: CaptionGenerationRequest): boolean {
    return this.options.fallback !== undefined && this.options.fallback.check(request).length === 0;
  }

  check(request: CaptionGenerationRequest): RequestProblem[] {
    const tags = request.include_hashtags ? request.hashtag_count : 0;
    // The shortest tag is "#" and one letter; the caption needs its own minimum besides.
    const min = MIN_CAPTION_CHARS + (tags > 0 ? charCount(HASHTAG_SEPARATOR) + tags * 3 - 1 : 0);
    if (request.max_length < min) {
      return [{ field: 'max_length', message: `must be at least ${min} to hold ${tags} hashtags and a caption; raise max_length or lower hashtag_count` }];
    }
    return [];
  }

  /**
   * The range's variations from the model; the offline engine's (with `fallback_reason`) when the
   * model cannot serve. Only the caller's abort rejects, and a failure without a fallback.
   * @throws the failure, as an error with `status` 503 and `code` `llm_unavailable`, when the offline engine cannot write the request's language.
   */
  override async draftVariations(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, sink?: CaptionVariation[]): Promise<Drafts> {
    // Scoring a reply parses it (and checks its language): the libraries load on the first draft, not at start.
    await loadNlpLibraries();
    if (range.count === 0) return { variations: [], model: this.name };
    const deadline = AbortSignal.timeout(this.options.totalTimeoutMs);
    const both = AbortSignal.any([signal, deadline]);
    try {
      const drafts = await this.breaker.execute(() => this.draftChecked(request, range.count, both, deadline), both);
      const variations = drafts.map((d) => scoreDraft(d, request));
      sink?.push(...variations);
      return { variations, model: this.name };
    } catch (err) {
      signal.throwIfAborted();
      const reason: FallbackReason =
        err instanceof BrokenCircuitError
          ? { code: 'llm_circuit_open', message: 'the model failed repeatedly; the circuit breaker is open' }
          : fallbackReasonOf(err);
      return this.fallBack(request, range, signal, reason, sink);
    }
  }

  /** Writes the range with the offline engine, saying why. */
  async fallBack(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, reason: FallbackReason, sink?: CaptionVariation[]): Promise<Drafts> {
    const fallback = this.options.fallback;
    const problems = fallback?.check(request) ?? [];
    if (!fallback || problems.length > 0) {
      const why =
        !fallback || !fallback.languages.includes(request.language)
          ? `${request.language} is written only by the LLM engine`
          : `the offline engine cannot write this request (${problems.map((p) => `${p.field} ${p.message}`).join('; ')})`;
      throw Object.assign(new Error(`${why}, and the model cannot serve now: ${reason.message}`), {
        status: 503,
        expose: true,
        code: 'llm_unavailable',
      });
    }
    captionFallbacks.inc({ code: reason.code });
    const drafts = await fallback.draftVariations(request, range, signal, sink);
    return { ...drafts, fallback_reason: reason };
  }

  confidence(request: CaptionGenerationRequest, variations: CaptionVariation[]): number {
    const terms = keyTermsOf(request);
    if (terms.length === 0) return 0;
    const text = variations.map((v) => v.caption.toLowerCase()).join('\n');
    return Math.round((terms.filter((t) => text.includes(t)).length / terms.length) * 1000) / 1000;
  }

  /** `count` checked drafts: one call, then one more for those that failed the checks. */
  private async draftChecked(request: CaptionGenerationRequest, count: number, signal: AbortSignal, deadline: AbortSignal): Promise<CheckedDraft[]> {
    const accepted: CheckedDraft[] = [];
    let retry: { reply: string; problems: string[] } | undefined;
    for (let round = 0; round < 2 && accepted.length < count; round++) {
      const wanted = count - accepted.length;
      const reply = await this.ask(request, wanted, signal, deadline, retry);
      const parsed = parseReply(reply);
      const problems: string[] = [];
      if ('problem' in parsed) problems.push(parsed.problem);
      else {
        for (const raw of parsed.variations.slice(0, wanted)) {
          const checked = checkDraft(raw, request, this.blocked);
          if (checked.ok) accepted.push(checked.draft);
          else problems.push(checked.problem);
        }
        if (parsed.variations.length < wanted) problems.push(`the reply holds ${parsed.variations.length} variations, ${wanted} were asked for`);
      }
      if (accepted.length < count) {
        llmRequests.inc({ model: this.options.model, outcome: 'invalid_output' });
        retry = { reply, problems: [...new Set(problems)] };
      }
    }
    if (accepted.length < count) throw new InvalidOutputError(retry?.problems ?? []);
    return accepted;
  }

  /** One call, measured; a deadline that passes is a timeout, not the caller's abort. */
  private async ask(
    request: CaptionGenerationRequest,
    count: number,
    signal: AbortSignal,
    deadline: AbortSignal,
    retry?: { reply: string; problems: string[] },
  ): Promise<string> {
    const model = this.options.model;
    const started = performance.now();
    let outcome = 'ok';
    try {
      const reply = await this.client.complete(messages(request, count, this.options.hashtagBlocklist, retry), signal);
      llmTokens.inc({ model, kind: 'prompt' }, reply.promptTokens);
      llmTokens.inc({ model, kind: 'completion' }, reply.completionTokens);
      return reply.content;
    } catch (err) {
      if (deadline.aborted) {
        outcome = 'timeout';
        throw new LlmTimeoutError(`the draft took longer than LLM_TOTAL_TIMEOUT_MS (${this.options.totalTimeoutMs} ms)`);
      }
      const reason = fallbackReasonOf(err).code;
      outcome = signal.aborted ? 'aborted' : reason.replace(/^llm_/, '');
      throw err;
    } finally {
      llmRequests.inc({ model, outcome });
      llmRequestDuration.observe({ model, outcome }, (performance.now() - started) / 1000);
    }
  }
}
