import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fixture received. */
export interface SeenRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: {
    model: string;
    stream?: boolean;
    messages: Array<{ role: string; content: string }>;
    response_format?: { type: string; json_schema?: { name: string; schema: unknown } };
    [key: string]: unknown;
  };
}

/** What the fixture answers one request with. */
export type Step =
  /**
   * 200 with this message content: one JSON body, or SSE `data:` chunks and `[DONE]` when the
   * request streams; sent once `until` resolves (a spec holds one draft while it looks at the others).
   */
  | { reply: string | ((req: SeenRequest) => string); delayMs?: number; until?: Promise<void> }
  /** An HTTP error status with an OpenAI-style error body. */
  | { status: number; message?: string; headers?: Record<string, string> }
  /** Starts the answer (headers and, when streaming, part of the content), then sends nothing more. */
  | { stall: string };

type FixtureLanguage = 'english' | 'spanish' | 'japanese' | 'russian' | 'korean';

/**
 * The variations a well-behaved model would write for the request it was sent: in the language
 * the system prompt asks for (English when it is none of the fixture's), or in `opts.language`
 * (a model that answers in the wrong one).
 */
export function goodReply(req: SeenRequest, opts: { language?: FixtureLanguage } = {}): string {
  const user = JSON.parse(req.body.messages.find((m) => m.role === 'user')!.content) as { variations_wanted: number };
  const system = req.body.messages.find((m) => m.role === 'system')!.content;
  const asked = /write every caption in (\w+)/.exec(system)?.[1];
  const language: FixtureLanguage = opts.language ?? (['spanish', 'japanese', 'russian', 'korean'].includes(asked ?? '') ? (asked as FixtureLanguage) : 'english');
  const tags = Number(/exactly (\d+) per variation/.exec(system)?.[1] ?? 0);
  const emojis = !/Emojis: none/.test(system);
  const lines = {
    english: ['Golden hour on the ridge with my favourite people', 'Sunset hike done and the view was worth every step', 'Mountain air, tired legs and a sky on fire'],
    spanish: ['La hora dorada en la cresta con mi gente favorita', 'Caminata al atardecer y una vista que valió cada paso', 'Aire de montaña, piernas cansadas y un cielo en llamas'],
    japanese: ['仲間と一緒に山の上で見た夕日はとてもきれいでした', '夕暮れのハイキング、すべての一歩に価値がありました', '山の空気と疲れた足、そして燃えるような空'],
    russian: ['Золотой час на хребте с любимыми людьми', 'Закатный поход окончен, и вид стоил каждого шага', 'Горный воздух, уставшие ноги и небо в огне'],
    korean: ['친구들과 함께 능선 위에서 맞이한 황금빛 노을', '해질녘 등산을 마쳤고 모든 걸음이 가치 있었어요', '산 공기와 지친 다리, 그리고 불타는 하늘'],
  }[language];
  const ask = { english: 'Who is coming next time?', spanish: '¿Quién viene la próxima vez?', japanese: '次は誰が来ますか？', russian: 'Кто пойдёт в следующий раз?', korean: '다음에는 누가 함께할까요?' }[language];
  const pool = ['#sunsethike', '#goldenhour', '#mountainview', '#trailfriends', '#ridgewalk', '#hikingtrip', '#alpenglow', '#summitsunset'];
  const variations = Array.from({ length: user.variations_wanted }, (_, i) => ({
    caption: `${lines[i % lines.length]}${emojis ? ' 🌄' : ''}. ${ask}`,
    hashtags: pool.slice(i % 3, (i % 3) + tags),
  }));
  return JSON.stringify({ variations });
}

/**
 * A loopback server that speaks the chat-completions protocol (`POST …/chat/completions`, plain
 * JSON or SSE `data:` chunks ending with `data: [DONE]`), answering each request with the next
 * scripted {@link Step} (then `fallback`, by default {@link goodReply}). Every request is kept in
 * `requests` for assertions on what the client sent.
 */
export class FakeChatCompletions {
  readonly requests: SeenRequest[] = [];
  /** Requests whose client left before the answer was complete (a cancelled draft). */
  abandoned = 0;
  private readonly script: Step[] = [];
  private readonly open = new Set<ServerResponse>();
  private server?: Server;
  /** The answer once the script is used up. */
  fallback: Step = { reply: (req) => goodReply(req) };

  /** Queues answers for the next requests, in order. */
  enqueue(...steps: Step[]): this {
    this.script.push(...steps);
    return this;
  }

  /** Empties the script and the request log. */
  reset(): void {
    this.script.length = 0;
    this.requests.length = 0;
    this.fallback = { reply: (req) => goodReply(req) };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const seen: SeenRequest = { path: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SeenRequest['body'] };
    this.requests.push(seen);
    const step = this.script.shift() ?? this.fallback;
    this.open.add(res);
    res.once('close', () => {
      this.open.delete(res);
      if (!res.writableFinished) this.abandoned += 1;
    });
    if ('status' in step) {
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(JSON.stringify({ error: { message: step.message ?? `status ${step.status}`, type: 'fixture' } }));
      return;
    }
    const content = 'stall' in step ? step.stall : typeof step.reply === 'function' ? step.reply(seen) : step.reply;
    if ('reply' in step && step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    if ('reply' in step && step.until) await step.until;
    if (res.destroyed) return;
    const base = { id: 'chatcmpl-fixture', created: Math.floor(Date.now() / 1000), model: seen.body.model };
    const usage = { prompt_tokens: 100, completion_tokens: Math.ceil(content.length / 4), total_tokens: 100 + Math.ceil(content.length / 4) };
    if (!seen.body.stream) {
      if ('stall' in step) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(content.slice(0, 10));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }], usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    for (let i = 0; i < content.length; i += 40) {
      send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: content.slice(i, i + 40) }, finish_reason: null }] });
    }
    if ('stall' in step) return;
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
    res.end('data: [DONE]\n\n');
  }
}
