import OpenAI, { BadRequestError, UnprocessableEntityError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { responseFormat, type ResponseFormatKind } from './llm-prompt.js';
import { LlmTimeoutError } from './llm-errors.js';

export interface LlmClientOptions {
  baseUrl: string;
  apiKey?: string;
  model: string;
  /** One HTTP attempt (the SDK's `timeout`), and the longest silence between two streamed chunks. */
  timeoutMs: number;
  /** Retries of 408/409/429/5xx and network errors, with the SDK's exponential backoff (honouring `Retry-After`). */
  maxRetries: number;
  stream: boolean;
  responseFormat: ResponseFormatKind;
  temperature: number;
}

/** One reply of the model. */
export interface LlmReply {
  content: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * One chat-completions call to an OpenAI-compatible server, plain JSON or SSE. The SDK retries
 * 408/409/429/5xx with backoff and bounds each attempt by `timeoutMs`; a streamed answer that
 * stops sending for `timeoutMs` is abandoned here (the SDK's timer stops at the headers). A server
 * that refuses `json_schema` structured output (400/422 naming it) is asked in JSON mode from then on.
 */
export class LlmClient {
  private readonly client: OpenAI;
  private format: ResponseFormatKind;

  constructor(private readonly options: LlmClientOptions) {
    this.format = options.responseFormat;
    this.client = new OpenAI({
      baseURL: options.baseUrl,
      // Local servers (Ollama, llama.cpp, vLLM) need no key; the SDK insists on one.
      apiKey: options.apiKey ?? 'no-key',
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
      // Only what is configured here reaches the server: no OPENAI_ORG_ID/OPENAI_PROJECT_ID from the
      // environment, and no SDK logging to the console beside the service's own logs.
      organization: null,
      project: null,
      logLevel: 'off',
    });
  }

  /** The structured-output mode in use (`json_object` once the server refused `json_schema`). */
  get responseFormat(): ResponseFormatKind {
    return this.format;
  }

  /** @throws the SDK's APIError family, {@link LlmTimeoutError} on a stall, or the signal's reason. */
  async complete(messages: ChatCompletionMessageParam[], signal: AbortSignal): Promise<LlmReply> {
    try {
      return await this.call(messages, signal);
    } catch (err) {
      if (this.format === 'json_schema' && refusedSchema(err)) {
        this.format = 'json_object';
        return this.call(messages, signal);
      }
      throw err;
    }
  }

  private async call(messages: ChatCompletionMessageParam[], signal: AbortSignal): Promise<LlmReply> {
    const base = {
      model: this.options.model,
      messages,
      temperature: this.options.temperature,
      response_format: responseFormat(this.format),
    };
    if (!this.options.stream) {
      const completion = await this.client.chat.completions.create({ ...base, stream: false }, { signal, timeout: this.options.timeoutMs });
      return {
        content: completion.choices[0]?.message?.content ?? '',
        promptTokens: completion.usage?.prompt_tokens ?? 0,
        completionTokens: completion.usage?.completion_tokens ?? 0,
      };
    }
    const idle = new AbortController();
    const stream = await this.client.chat.completions.create(
      { ...base, stream: true, stream_options: { include_usage: true } },
      { signal: AbortSignal.any([signal, idle.signal]), timeout: this.options.timeoutMs },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new LlmTimeoutError(`the streamed answer stalled for ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    };
    const reply: LlmReply = { content: '', promptTokens: 0, completionTokens: 0 };
    arm();
    try {
      for await (const chunk of stream) {
        arm();
        reply.content += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) {
          reply.promptTokens = chunk.usage.prompt_tokens;
          reply.completionTokens = chunk.usage.completion_tokens;
        }
      }
    } catch (err) {
      if (idle.signal.aborted && !signal.aborted) throw idle.signal.reason as Error;
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // An aborted SDK stream may simply end: a cut-off answer is no answer.
    signal.throwIfAborted();
    if (idle.signal.aborted) throw idle.signal.reason as Error;
    return reply;
  }
}

function refusedSchema(err: unknown): boolean {
  return (err instanceof BadRequestError || err instanceof UnprocessableEntityError) && /response_format|json_schema|schema/i.test(err.message);
}
