// The real server (startServer: the same edge, timeouts and graceful shutdown as main.ts), plus two
// test-only routes, run as a child process by test/ops-shutdown.slow.spec.ts:
//   GET /api/v14/lazy/shutdown-test/slow?ms=N  answers after N ms;
//   GET /api/v14/lazy/shutdown-test/stream     streams a numbered item every 50 ms, forever
//                                              (Accept picks JSON array, NDJSON or SSE).
import 'reflect-metadata';
import { Controller, Get, Module, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppModule } from '../../src/app.module.js';
import { negotiateFormat } from '../../src/common/streaming/negotiation.js';
import { ResponseStream } from '../../src/common/streaming/response-stream.js';
import { loadConfig } from '../../src/config/app-config.js';
import { startServer } from '../../src/app/server.js';

@Controller('shutdown-test')
class ShutdownTestController {
  @Get('slow')
  async slow(@Query('ms') ms: string): Promise<{ waited: number }> {
    // A slow handler by design: the spec asserts that it is answered, never how long it took.
    await sleep(Number(ms));
    return { waited: Number(ms) };
  }

  @Get('stream')
  async stream(@Req() req: Request, @Res() res: Response): Promise<void> {
    const stream = new ResponseStream<{ n: number }>(req, res, {
      format: negotiateFormat(req, ['json', 'ndjson', 'sse']),
      route: 'GET /shutdown-test/stream',
      sseEvent: 'item',
    });
    async function* forever(signal: AbortSignal) {
      for (let n = 0; !signal.aborted; n++) {
        yield { n };
        // Paces the stream: open through the shutdown delay without flooding the client; the spec counts items, never gaps.
        await sleep(50, undefined, { signal }).catch(() => undefined);
      }
    }
    await stream.send(forever(stream.signal));
  }
}

const config = loadConfig(process.env);

@Module({ imports: [AppModule.register(config)], controllers: [ShutdownTestController] })
class ShutdownTestModule {}

await startServer(ShutdownTestModule, config);
process.stdout.write(`LISTENING ${config.server.port}\n`);
