// Every regular expression that can see request text, run on the inputs that make a backtracking
// pattern slowest, at the largest size the service can receive. Body fields at 1 MiB: the body
// limit lets one string be that long, and validation runs every rule of a field even after its
// length rule failed. Query parameters and headers at 64 KiB, four times what Node's 16 KiB header
// limit lets through. The captions engine at the largest description it accepts, and its text
// measures at 64 KiB. Linear code takes well under the bound on each; a quadratic pattern takes
// seconds to minutes.
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { toBatchInput } from './batch/batch-requests.js';
import { BatchCaptionRequest, BatchQuery } from './batch/dto/batch-caption-request.dto.js';
import { IdempotencyStore } from './batch/idempotency.store.js';
import { CaptionGenerationRequest, withDefaults } from './captions/dto/caption-generation-request.dto.js';
import type { Language } from './captions/dto/caption-options.js';
import { analyse } from './captions/engine/caption-analysis.js';
import { toHashtag } from './captions/engine/hashtag-picker.js';
import { OFFLINE_BANKS } from './captions/engine/languages/offline-banks.js';
import { TemplateCaptionEngine } from './captions/engine/template-caption.engine.js';
import { amstad, englishSyllables, fernandezHuerta, fleschReadingEase, gulpease, kandelMoles, martinsFlesch, spanishSyllables } from './captions/engine/readability.js';
import { captionSentences } from './captions/engine/sentence-check.js';
import { emojiCount, openingSentence, stripEmoji, words } from './captions/engine/text-analysis.js';
import { requestIdMiddleware } from './common/http/request-id.js';
import { apiKeyMiddleware } from './common/security/api-key.middleware.js';
import { HistoryPageQueryDto } from './history/history-query.dto.js';

const BODY_FIELD = 1024 * 1024;
const QUERY_OR_HEADER = 64 * 1024;
/** The largest `content_description` accepted. */
const DESCRIPTION_MAX = 2000;
/**
 * Generous for linear work on a busy 2-core machine: the slowest case took 14.5 ms with the machine
 * to itself, and `npm test` runs this tier beside the end-to-end one, whose servers can leave it a
 * third of a core for as long as a case runs. The quadratic patterns took seconds at these sizes.
 */
const BOUND_MS = 200;

/** `unit` repeated to exactly `n` characters. */
const fill = (unit: string, n: number) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);

/** Strings of `n` characters that make backtracking patterns on request text slowest. */
const hostile = (n: number): Record<string, string> => ({
  'run of <': fill('<', n),
  '< then spaces': `<${fill(' ', n - 2)}x`,
  '< on, repeated': fill('< on', n),
  'handler letters without =': `<a on${fill('a', n - 5)}`,
  'handler spaces without =': `<a onx${fill(' ', n - 7)}x`,
  'javascript then spaces': `javascript${fill(' ', n - 11)}x`,
  'run of dots then a letter': `${fill('.', n - 1)}x`,
  'run of commas then a letter': `${fill(',', n - 1)}x`,
  'run of slashes then a letter': `${fill('/', n - 1)}x`,
  'id characters then a bad one': `${fill('a', n - 1)}!`,
  'digits then a colon': `2024-01-01T10:00:00.${fill('1', n - 21)}:`,
  'quotes and letters': fill("a'", n),
  'spaces then a letter': `${fill(' ', n - 1)}x`,
});

/** Best of three runs: scheduling noise only ever adds time, and a quadratic search is slow on every run. */
function fastestMs(run: () => unknown): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    run();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

const validate = <T extends object>(cls: ClassConstructor<T>, plain: object) =>
  validateSync(plainToInstance(cls, plain), { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });

/** Runs an Express middleware to completion (they are all synchronous) on a request with `headers`. */
function middleware(sut: RequestHandler, headers: Record<string, string>): void {
  const res = { setHeader: () => res, status: () => res, json: () => res } as unknown as Response;
  const next: NextFunction = () => undefined;
  void sut({ path: '/api/v14/lazy/captions', headers } as unknown as Request, res, next);
}

/** Runs a check that throws on a bad value: only its time matters here. */
function refused(check: () => unknown): void {
  try {
    check();
  } catch {
    // a 422 for a bad value is the expected outcome
  }
}

const cases = (n: number) => Object.entries(hostile(n));

describe('regular expressions on request text', () => {
  describe('body fields, 1 MiB each', () => {
    it.each(cases(BODY_FIELD))('caption request: %s', (_name, text) => {
      const fields: Array<Record<string, unknown>> = [
        { content_description: text },
        { timezone: text },
        { user_id: text },
        { request_id: text },
        { brand_info: { name: text } },
        { brand_info: { voice: text } },
        { brand_info: { keywords: [text, text.slice(0, 40)] } },
      ];
      for (const field of fields) {
        // The path of a batch item or NDJSON line, and of the validation pipe.
        expect(fastestMs(() => toBatchInput(field, 0))).toBeLessThan(BOUND_MS);
        expect(fastestMs(() => validate(CaptionGenerationRequest, field))).toBeLessThan(BOUND_MS);
      }
      expect(fastestMs(() => validate(BatchCaptionRequest, { requests: [], batch_id: text }))).toBeLessThan(BOUND_MS);
    });
  });

  describe('query parameters and headers, 64 KiB each', () => {
    it.each(cases(QUERY_OR_HEADER))('queries: %s', (_name, text) => {
      expect(fastestMs(() => validate(BatchQuery, { batch_id: text }))).toBeLessThan(BOUND_MS);
      for (const field of ['user_id', 'date_from', 'date_to', 'cursor']) {
        expect(fastestMs(() => validate(HistoryPageQueryDto, { [field]: text }))).toBeLessThan(BOUND_MS);
      }
    });

    it.each(cases(QUERY_OR_HEADER))('headers: %s', (_name, text) => {
      expect(fastestMs(() => refused(() => IdempotencyStore.validKey(text)))).toBeLessThan(BOUND_MS);
      expect(fastestMs(() => middleware(requestIdMiddleware, { 'x-request-id': text }))).toBeLessThan(BOUND_MS);
      const auth = apiKeyMiddleware(['the-key'], [])!;
      expect(fastestMs(() => middleware(auth, { authorization: `Bearer ${text}` }))).toBeLessThan(BOUND_MS);
      expect(fastestMs(() => middleware(auth, { authorization: `Bearer x${text}`, 'x-api-key': text }))).toBeLessThan(BOUND_MS);
    });
  });

  describe('captions engine, on the largest accepted description and brand', () => {
    const engine = new TemplateCaptionEngine();

    it.each(cases(DESCRIPTION_MAX))('analysis and generation: %s', (_name, text) => {
      for (const [language, bank] of Object.entries(OFFLINE_BANKS)) {
        const brand_info = { name: text.slice(0, 100), voice: text.slice(0, 200), keywords: [text.slice(0, 40)] };
        const request = withDefaults({ content_description: text, language: language as Language, brand_info, hashtag_count: 5 });
        expect(fastestMs(() => analyse(request, bank))).toBeLessThan(BOUND_MS);
        expect(fastestMs(() => engine.generate(request, 0))).toBeLessThan(BOUND_MS);
        // The shortest caption allowed, so the text is cut to fit.
        const short = withDefaults({ ...request, max_length: Math.max(50, TemplateCaptionEngine.minimumLength(request)) });
        expect(fastestMs(() => engine.generate(short, 0))).toBeLessThan(BOUND_MS);
      }
    });
  });

  describe('text measures, on 64 KiB (over 25 times the longest caption)', () => {
    it.each(cases(64 * 1024))('%s', (_name, text) => {
      const measures = [
        () => fleschReadingEase(text),
        () => fernandezHuerta(text),
        () => kandelMoles(text),
        () => amstad(text),
        () => gulpease(text),
        () => martinsFlesch(text),
        () => captionSentences(text),
        ...Object.values(OFFLINE_BANKS).map((bank) => () => bank.parse(text)),
        () => words(text),
        () => stripEmoji(text),
        () => emojiCount(text),
        () => englishSyllables(text),
        () => spanishSyllables(text),
        () => toHashtag(text),
        () => openingSentence(text),
      ];
      for (const measure of measures) expect(fastestMs(measure)).toBeLessThan(BOUND_MS);
    });
  });
});
