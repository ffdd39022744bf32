import { Piscina } from 'piscina';
import { withDefaults, type CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import { captionDraftRanges } from '../../captions.metrics.js';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import type { Language } from '../../dto/caption-options.js';
import { CaptionEngine, type Drafts, type DraftRange, type RequestProblem } from '../caption-engine.js';
import { loadNlpLibraries, nlpLoaded } from '../nlp-libraries.js';
import { keyTermConfidence, type TemplateCaptionEngine, type TemplateEngineOptions } from '../template-caption.engine.js';
import type { DraftTask, DraftTaskResult, DraftWorkerData } from './draft-task.js';

export interface DraftPoolOptions {
  /** Most drafting threads at once (`CAPTION_WORKERS`). */
  threads: number;
  /** A thread idle this long is stopped (`CAPTION_WORKER_IDLE_MS`): none run at rest. */
  idleTimeoutMs: number;
  /** The settings `engine` was built with: each thread builds its own engine from them. */
  engine: TemplateEngineOptions;
  /**
   * Most drafting work, in milliseconds of the threads' measured speed, that may wait for the
   * threads (`CAPTION_QUEUE_MS`): past it, a new draft is made on the event loop instead of queueing.
   */
  queueBudgetMs: number;
}

/** Running from the TypeScript sources (tests, `npm run cluster`): threads compile the worker with SWC as the main thread does. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER = new URL(FROM_SOURCE ? './draft.worker.ts' : './draft.worker.js', import.meta.url);
/** What a thread drafts nothing of while it loads: its description warms the parser. */
const WARM_UP = withDefaults({ content_description: 'Fresh bread from the corner bakery on a quiet morning' });
const SWC_REGISTER = new URL('../../../../scripts/swc-register.mjs', import.meta.url);
let hooks: Promise<unknown> | undefined;
/**
 * From the sources, the SWC hooks are registered on this thread too before a thread starts: with
 * hooks registered only by worker threads, Node 20 loses its hooks thread when the last of them
 * stops, and the next thread that registers them takes the process down (seen under Vitest).
 */
const sourceHooks = (): Promise<unknown> => (FROM_SOURCE ? (hooks ??= import(SWC_REGISTER.href)) : Promise.resolve());
/** A draft made on the event loop: the range left, where its variations go, and how it ends. */
interface LaneDraft {
  request: CaptionGenerationRequest;
  next: number;
  end: number;
  signal: AbortSignal;
  sink: CaptionVariation[];
  resolve(): void;
  reject(err: unknown): void;
  /** When it joined the lane. */
  since: number;
}

/** `caption_draft_ranges_total` by where, its label children bound once (a range is counted per chunk). */
const draftedOnThread = captionDraftRanges.labels({ where: 'thread' });
const draftedOnEventLoop = captionDraftRanges.labels({ where: 'event_loop' });

/** Most variations one turn of the event loop drafts for the overflow lane, when they are late. */
const MOST_PER_TURN = 16;
/** Weight of the newest task in the threads' moving average speed. */
const SPEED_WEIGHT = 0.2;

/**
 * The offline engine with its drafting on worker threads: the same engine (same name, cache
 * name, languages, checks, and the same variations), but the CPU-bound part, drafting and scoring
 * candidates, runs on a pool of up to `threads` threads, so the event loop that serves HTTP
 * (cached pages, streams, probes) is not held by caption generation. Threads start on the first
 * draft and stop after `idleTimeoutMs` without work; each builds its own engine from the server's
 * settings. A draft with no thread running waits for one to load (under half a second from the
 * build) rather than draft here: the language libraries then never load on this thread, which
 * keeps the server's idle memory low (docs/captions-engine.md); only if a thread cannot start are
 * drafts made here, as without a pool. Drafts wait for a thread in arrival order while the work
 * already sent to the threads takes them at most `queueBudgetMs` (at their recent speed); past
 * that, a new draft is made here, so this thread adds its share instead of the wait growing. A caller's
 * abort stops the range before its next variation (what was made is still handed to `sink`);
 * errors the engine throws (a `RangeError` for a request it cannot serve) reach the caller as they
 * were thrown.
 */
export class PooledCaptionEngine extends CaptionEngine {
  private pool?: Piscina<DraftTask, DraftTaskResult>;
  /** A thread has loaded the engine and none stopped since: drafts go to the pool. */
  private warm = false;
  private warming?: Promise<void>;
  private startError?: unknown;
  /** Key terms the threads read from each request's description, for {@link confidence} without parsing it again here. */
  private readonly keyTerms = new WeakMap<CaptionGenerationRequest, string[]>();
  /** Tasks sent to the pool and not yet settled. */
  private inFlight = 0;
  /** Variations asked of the pool's tasks not yet settled (running or waiting). */
  private variationsInFlight = 0;
  /** Drafts waiting for turns of the event loop ({@link draftHere}), oldest first. */
  private readonly lane: LaneDraft[] = [];
  private laneTurn?: NodeJS.Immediate;
  /** The threads' recent milliseconds per variation (moving average of what they report); 0 until one reports. */
  private msPerVariation = 0;
  /** Stops the pool once it has had no task for `idleTimeoutMs`. */
  private idleTimer?: NodeJS.Timeout;

  constructor(
    /** The engine on this thread: names, checks, and confidence of a response not drafted here. */
    readonly engine: TemplateCaptionEngine,
    private readonly options: DraftPoolOptions,
  ) {
    super();
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be an integer ≥ 1, not ${options.threads}`);
  }

  get name(): string {
    return this.engine.name;
  }

  override get cacheName(): string {
    return this.engine.cacheName;
  }

  override get draftSize(): number {
    return this.engine.draftSize;
  }

  get languages(): readonly Language[] {
    return this.engine.languages;
  }

  /** Drafting threads running now (0 at rest). */
  get threads(): number {
    return this.pool?.threads.length ?? 0;
  }

  check(request: CaptionGenerationRequest): RequestProblem[] {
    return this.engine.check(request);
  }

  /**
   * From the key terms the thread that drafted `request` read; otherwise read here when this thread
   * holds the parsers already, else by a thread (so this thread never loads the parsers for it), or
   * here when none can start.
   */
  async confidence(request: CaptionGenerationRequest, variations: CaptionVariation[]): Promise<number> {
    const terms = this.keyTerms.get(request);
    if (terms) return keyTermConfidence(terms, variations);
    // Here when this thread has the parsers already (it drafted while the threads were busy): a
    // task for it would wait behind every draft queued on the threads.
    if (!this.engine.languages.includes(request.language) || nlpLoaded() || !(await this.onThread())) return this.engine.confidence(request, variations);
    const result = await this.run(this.poolNow(), { request: { ...request }, first: 0, count: 0, cancel: new Int32Array(new SharedArrayBuffer(4)) });
    return keyTermConfidence(result.keyTerms, variations);
  }

  async draftVariations(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, sink: CaptionVariation[] = []): Promise<Drafts> {
    signal.throwIfAborted();
    if (!this.warm) {
      if (!(await this.onThread(request))) return this.engine.draftVariations(request, range, signal, sink);
      signal.throwIfAborted();
    }
    if (this.queuedMs() > this.options.queueBudgetMs) {
      draftedOnEventLoop.inc();
      return this.draftHere(request, range, signal, sink);
    }
    draftedOnThread.inc();
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const stop = () => Atomics.store(cancel, 0, 1);
    signal.addEventListener('abort', stop, { once: true });
    let result: DraftTaskResult;
    try {
      // Structured clone sends the request's own fields (a DTO instance arrives as a plain object).
      result = await this.run(this.poolNow(), { request: { ...request }, first: range.first, count: range.count, cancel });
    } finally {
      signal.removeEventListener('abort', stop);
    }
    sink.push(...result.variations);
    this.keyTerms.set(request, result.keyTerms);
    if (result.stopped) signal.throwIfAborted();
    return { variations: sink, model: this.name };
  }

  /**
   * Drafts `range` on this thread in the lane of drafts made here, in arrival order: a turn of the
   * event loop drafts one variation of the lane's oldest draft, so the reads served between turns
   * wait for one variation, not for every overflowed draft. Only while the oldest draft has waited
   * longer than `queueBudgetMs` does a turn draft more (at most {@link MOST_PER_TURN}), so the lane
   * keeps up under overload.
   */
  private async draftHere(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, sink: CaptionVariation[]): Promise<Drafts> {
    await loadNlpLibraries();
    if (range.count > 0) {
      await new Promise<void>((resolve, reject) => {
        this.lane.push({ request, next: range.first, end: range.first + range.count, signal, sink, resolve, reject, since: performance.now() });
        this.turnHere();
      });
    }
    return { variations: sink, model: this.name };
  }

  /** Schedules the lane's next turn if drafts wait and none is scheduled. */
  private turnHere(): void {
    if (this.laneTurn || this.lane.length === 0) return;
    this.laneTurn = setImmediate(() => {
      this.laneTurn = undefined;
      const late = performance.now() - this.options.queueBudgetMs;
      for (let made = 0; this.lane.length > 0 && (made === 0 || (made < MOST_PER_TURN && this.lane[0]!.since < late)); made++) {
        const draft = this.lane[0]!;
        try {
          draft.signal.throwIfAborted();
          draft.sink.push(this.engine.generate(draft.request, draft.next++));
        } catch (err) {
          this.lane.shift();
          draft.reject(err);
          continue;
        }
        if (draft.next === draft.end) {
          this.lane.shift();
          draft.resolve();
        }
      }
      this.turnHere();
    });
  }

  /** Stops the threads (waiting for the tasks they run); a later draft starts them again. */
  override async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.warm = false;
    clearTimeout(this.idleTimer);
    await this.warming;
    await pool?.close();
  }

  /** Resolves once drafts go to a thread, starting one if none runs (drafts made meanwhile stay on this thread). */
  async ready(): Promise<void> {
    if (this.warm) return;
    this.warmUp(WARM_UP);
    await this.warming;
    if (!this.warm) throw new Error('no drafting thread could start', { cause: this.startError });
  }

  /**
   * Whether work goes to a thread. Cold (no thread runs), it waits for one to load rather than
   * draft here, so this thread never loads the language libraries (about 50 MB); only when this
   * thread holds them already (a thread could not start before) does it draft here meanwhile.
   */
  private async onThread(request: CaptionGenerationRequest = WARM_UP): Promise<boolean> {
    if (this.warm) return true;
    this.warmUp(request);
    if (nlpLoaded()) return false;
    await this.warming;
    return this.warm;
  }

  /** Starts a thread (once at a time) with a task that loads the engine and parses `request`'s description; warm when it is done. */
  private warmUp(request: CaptionGenerationRequest): void {
    if (this.warming) return;
    this.warming = (async () => {
      try {
        await sourceHooks();
        const pool = this.poolNow();
        await this.run(pool, { request: { ...request }, first: 0, count: 0, cancel: new Int32Array(new SharedArrayBuffer(4)) });
        this.warm = this.pool === pool && pool.threads.length > 0;
      } catch (err) {
        // A thread that cannot start: drafts stay on this thread, and the next one tries again.
        this.startError = err;
      } finally {
        this.warming = undefined;
      }
    })();
  }

  /**
   * Runs `task` on `pool`, and stops the pool once it has had no task for `idleTimeoutMs`. The
   * pool's own idle timeout is not used: a task that ends within the turn that posted it (a
   * cancelled range) can leave a thread with no timer at all, running at rest for good.
   */
  private async run(pool: Piscina<DraftTask, DraftTaskResult>, task: DraftTask): Promise<DraftTaskResult> {
    this.inFlight++;
    this.variationsInFlight += task.count;
    clearTimeout(this.idleTimer);
    try {
      const result = await pool.run(task);
      if (result.variations.length > 0) {
        const ms = result.ms / result.variations.length;
        this.msPerVariation = this.msPerVariation === 0 ? ms : this.msPerVariation + SPEED_WEIGHT * (ms - this.msPerVariation);
      }
      return result;
    } finally {
      this.variationsInFlight -= task.count;
      if (--this.inFlight === 0) this.idleTimer = setTimeout(() => this.stopIdle(), this.options.idleTimeoutMs).unref();
    }
  }

  /** How long the work already sent to the threads takes them, at their recent speed: what a new task would wait. */
  private queuedMs(): number {
    return (this.variationsInFlight * this.msPerVariation) / this.options.threads;
  }

  /** The pool had no task for `idleTimeoutMs`: its threads stop, and the next draft warms one up again. */
  private stopIdle(): void {
    const pool = this.pool;
    if (!pool || this.inFlight > 0 || this.warming) return;
    this.pool = undefined;
    this.warm = false;
    // Nothing runs on it: closing only ends idle threads.
    void pool.close().catch(() => undefined);
  }

  private poolNow(): Piscina<DraftTask, DraftTaskResult> {
    if (this.pool) return this.pool;
    const { engine } = this.options;
    const workerData: DraftWorkerData = { engine: { ...engine, hashtagBlocklist: engine.hashtagBlocklist ? [...engine.hashtagBlocklist] : undefined } };
    const pool = new Piscina<DraftTask, DraftTaskResult>({
      filename: WORKER.href,
      name: 'default',
      minThreads: 0,
      maxThreads: this.options.threads,
      // Idle threads are stopped by `stopIdle`, not by the pool.
      idleTimeout: Infinity,
      // A task the pool takes off its queue but cannot hand to a busy thread goes back to the head,
      // not the tail: by default it goes to the tail, and under a steady stream of drafts the same
      // task can lose its turn again and again (waits of a minute were seen with one thread).
      stricterFIFO: true,
      // The next task waits on the thread, not here: with one task per thread, a thread that ends
      // one waits for this event loop to hand it the next, and idles while the loop is busy.
      concurrentTasksPerWorker: 4,
      // Drafting is bulk CPU work: when the cores are short, the kernel runs the event loop (reads,
      // probes, the answers of drafts) first. Per thread on Linux; ignored where @napi-rs/nice
      // (piscina's optional dependency) has no build.
      niceIncrement: 10,
      workerData,
      execArgv: FROM_SOURCE ? ['--import', SWC_REGISTER.href] : undefined,
    });
    // The last thread ended (it failed): the next draft warms one up again rather than wait for it.
    // (Piscina removes the thread from its list right after this event: looked at a microtask later.)
    pool.on('workerDestroy', () =>
      queueMicrotask(() => {
        if (this.pool === pool && pool.threads.length === 0) this.warm = false;
      }),
    );
    this.pool = pool;
    return pool;
  }
}
