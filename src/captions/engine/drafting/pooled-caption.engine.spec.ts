import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { withDefaults, type CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import { nlpLoaded } from '../nlp-libraries.js';
import { TemplateCaptionEngine } from '../template-caption.engine.js';
import { captionDraftRanges } from '../../captions.metrics.js';
import { PooledCaptionEngine } from './pooled-caption.engine.js';

const request = (fields: Partial<CaptionGenerationRequest>) =>
  withDefaults({ content_description: 'Golden hour picnic in the park with homemade lemonade and good friends', ...fields });
const live = () => new AbortController().signal;
/** The nice value of each thread of this process, by thread id (Linux: field 19 of /proc/self/task/<tid>/stat). */
const niceByThread = () =>
  new Map(
    readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (in parentheses, which may hold spaces) start at field 3.
      return [Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    }),
  );
/** `caption_draft_ranges_total` by where: what /metrics reports. */
const drafted = async () => {
  const { values } = await captionDraftRanges.get();
  const of = (where: string) => values.find((v) => v.labels.where === where)?.value ?? 0;
  return { thread: of('thread'), eventLoop: of('event_loop') };
};

describe(PooledCaptionEngine.name, () => {
  const options = { hashtagBlocklist: ['#picnic', 'park'], maxHashtags: 5 };
  const inline = new TemplateCaptionEngine(options);
  const pooled = new PooledCaptionEngine(inline, { threads: 1, idleTimeoutMs: 1000, queueBudgetMs: 0, engine: options });
  afterAll(() => pooled.close());

  it('starts no thread before the first draft, waits for one to load rather than load the parsers here, then drafts on it', async () => {
    expect(pooled.threads).toBe(0);
    const onThisThread = vi.spyOn(inline, 'generate');
    onThisThread.mockClear();
    const cold = request({ request_id: 'cold' });
    const coldDrafts = await pooled.draftVariations(cold, { first: 0, count: 2 }, live());
    expect(coldDrafts.variations).toHaveLength(2);
    expect(onThisThread).not.toHaveBeenCalled();
    expect(pooled.threads).toBe(1);
    // Neither the drafts nor the confidence of a response read from the cache made this thread load compromise or eld.
    const fromCache = request({ request_id: 'cold' });
    const confidence = await pooled.confidence(fromCache, coldDrafts.variations);
    expect(nlpLoaded()).toBe(false);
    expect(confidence).toBe(await inline.confidence(cold, [0, 1].map((i) => inline.generate(cold, i))));
    expect(nlpLoaded()).toBe(true);
    await pooled.ready();
    onThisThread.mockClear();
    for (const r of [
      request({ request_id: 'a', brand_info: { name: 'Acme Co', voice: 'bold', keywords: ['acme'] } }),
      request({ request_id: 'b', language: 'german', content_description: 'Picknick zur goldenen Stunde im Park mit Limonade', optimization_level: 'quality' }),
    ]) {
      const sink: CaptionVariation[] = [];
      onThisThread.mockClear();
      const drafts = await pooled.draftVariations(r, { first: 2, count: 4 }, live(), sink);
      expect(onThisThread).not.toHaveBeenCalled();
      const expected = [2, 3, 4, 5].map((i) => inline.generate(r, i));
      expect(drafts.variations).toEqual(expected);
      expect(sink).toEqual(expected);
      expect(drafts.model).toBe(inline.name);
      // Blocked tags stay blocked on the threads: they are built with the same settings.
      expect(drafts.variations.flatMap((v) => v.hashtags)).not.toContain('#picnic');
      expect(await pooled.confidence(r, drafts.variations)).toBe(await inline.confidence(r, expected));
    }
    onThisThread.mockRestore();
    expect(pooled.threads).toBe(1);
    expect([pooled.name, pooled.cacheName, pooled.draftSize, pooled.languages]).toEqual([inline.name, inline.cacheName, inline.draftSize, inline.languages]);
  });

  it.runIf(process.platform === 'linux')('drafts on threads of a lower CPU priority than the event loop', async () => {
    const before = niceByThread();
    await pooled.draftVariations(request({ request_id: 'nice' }), { first: 0, count: 1 }, live());
    const after = niceByThread();
    // The event loop's thread (its id is the process id) keeps its priority; the drafting thread runs at +10.
    expect(after.get(process.pid)).toBe(before.get(process.pid));
    expect([...after.values()].filter((nice) => nice === before.get(process.pid)! + 10)).toHaveLength(pooled.threads);
  });

  it('rejects a request the engine cannot serve with the RangeError the engine throws', async () => {
    await pooled.ready();
    const r = request({ language: 'japanese' });
    await expect(pooled.draftVariations(r, { first: 0, count: 1 }, live())).rejects.toThrow(RangeError);
    await expect(pooled.draftVariations(r, { first: 0, count: 1 }, live())).rejects.toThrow(/japanese is not supported/);
  });

  it('stops a range when the signal aborts, keeping in the sink what was drafted', async () => {
    await pooled.ready();
    const r = request({ request_id: 'long', optimization_level: 'maximum_quality' });
    const running = new AbortController();
    const sink: CaptionVariation[] = [];
    const first = pooled.draftVariations(r, { first: 0, count: 400 }, running.signal, sink);
    setTimeout(() => running.abort(new Error('client left')), 150);
    await expect(first).rejects.toThrow('client left');
    expect(sink.length).toBeLessThan(400);
    expect(sink).toEqual(sink.map((_, i) => inline.generate(r, i)));
  });

  it('drafts on this thread once the work waiting for the threads passes the budget, instead of queueing behind it', async () => {
    // A budget of 100 ms: a range of 400 variations on the thread is past it.
    const budgeted = new PooledCaptionEngine(inline, { threads: 1, idleTimeoutMs: 60_000, queueBudgetMs: 100, engine: options });
    try {
      await budgeted.ready();
      // The threads' speed is learnt from what they report.
      await budgeted.draftVariations(request({ request_id: 'speed' }), { first: 0, count: 5 }, live());
      const before = await drafted();
      const long = new AbortController();
      const r = request({ request_id: 'busy', optimization_level: 'maximum_quality' });
      const running = budgeted.draftVariations(r, { first: 0, count: 400 }, long.signal);
      const onThisThread = vi.spyOn(inline, 'generate');
      onThisThread.mockClear();
      const extra = request({ request_id: 'overflow' });
      const drafts = await budgeted.draftVariations(extra, { first: 0, count: 2 }, live());
      expect(onThisThread).toHaveBeenCalledTimes(2);
      onThisThread.mockRestore();
      expect(await drafted()).toEqual({ thread: before.thread + 1, eventLoop: before.eventLoop + 1 });
      expect(drafts.variations).toEqual([0, 1].map((i) => inline.generate(extra, i)));
      // Their confidence is read here too, not by a task queued behind the busy thread.
      let longSettled = false;
      void running.catch(() => undefined).finally(() => (longSettled = true));
      expect(await budgeted.confidence(extra, drafts.variations)).toBe(await inline.confidence(extra, drafts.variations));
      expect(longSettled).toBe(false);
      long.abort(new Error('done waiting'));
      await expect(running).rejects.toThrow('done waiting');
      // Nothing waits now: the next draft goes to the thread again.
      onThisThread.mockClear();
      await budgeted.draftVariations(request({ request_id: 'after' }), { first: 0, count: 1 }, live());
      expect(onThisThread).not.toHaveBeenCalled();
      expect(await drafted()).toEqual({ thread: before.thread + 2, eventLoop: before.eventLoop + 1 });
    } finally {
      await budgeted.close();
    }
  });

  it('serves queued drafts in arrival order while clients keep the thread busy', async () => {
    // A budget no queue here reaches; 8 clients each send their next draft as soon as the
    // last is answered, so the thread is never idle and the queue never empty.
    const queued = new PooledCaptionEngine(inline, { threads: 1, idleTimeoutMs: 60_000, queueBudgetMs: 60_000, engine: options });
    try {
      await queued.ready();
      const before = await drafted();
      const sent: number[] = [];
      const answered: number[] = [];
      let next = 0;
      const client = async (c: number) => {
        for (let k = 0; k < 25; k++) {
          const n = next++;
          sent.push(n);
          await queued.draftVariations(request({ request_id: `fifo-${c}-${k}` }), { first: 0, count: 1 }, live());
          answered.push(n);
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
      expect(await drafted()).toEqual({ thread: before.thread + 200, eventLoop: before.eventLoop });
      expect(answered).toHaveLength(200);
      expect(answered).toEqual(sent);
    } finally {
      await queued.close();
    }
  });

  it('rejects at once when the signal aborted before the call', async () => {
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(pooled.draftVariations(request({}), { first: 0, count: 1 }, ac.signal)).rejects.toThrow('gone');
  });

  it('stops idle threads: none run at rest, and the next draft starts one again', async () => {
    await pooled.ready();
    await vi.waitFor(() => expect(pooled.threads).toBe(0), { timeout: 10_000, interval: 50 });
    // Cold again, with the parsers loaded here by now (the expectations above): this draft is made here while a thread loads, and the ones after it on the thread.
    const onThisThread = vi.spyOn(inline, 'generate');
    onThisThread.mockClear();
    await pooled.draftVariations(request({ request_id: 'again' }), { first: 0, count: 1 }, live());
    expect(onThisThread).toHaveBeenCalledTimes(1);
    await pooled.ready();
    onThisThread.mockClear();
    const drafts = await pooled.draftVariations(request({ request_id: 'again' }), { first: 1, count: 1 }, live());
    expect(onThisThread).not.toHaveBeenCalled();
    onThisThread.mockRestore();
    expect(drafts.variations).toEqual([inline.generate(request({ request_id: 'again' }), 1)]);
  });

  it('starts threads again after close, in a new pool of the same process too', async () => {
    // From the sources, a thread registers the SWC hooks: a new one after the last stopped must not take the process down.
    for (const k of [1, 2]) {
      const other = new PooledCaptionEngine(inline, { threads: 1, idleTimeoutMs: 60_000, queueBudgetMs: 250, engine: options });
      await other.ready();
      const r = request({ request_id: `cycle-${k}` });
      expect((await other.draftVariations(r, { first: 0, count: 1 }, live())).variations).toEqual([inline.generate(r, 0)]);
      await other.close();
      expect(other.threads).toBe(0);
    }
  });

  it('refuses a pool of no thread', () => {
    expect(() => new PooledCaptionEngine(inline, { threads: 0, idleTimeoutMs: 1000, queueBudgetMs: 250, engine: {} })).toThrow(RangeError);
  });
});
