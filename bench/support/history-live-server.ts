// The real server (startServer: the same edge as main.ts), run as a child process by
// bench/history-live.bench.ts so the read latency it measures is the server's, not the bench's
// own clients' CPU. Three bench-only routes read or switch what the bench used to patch in process:
//   GET  /api/v14/lazy/bench/freshness        bucket reads (the freshness check) since the last reset, and their ms;
//   POST /api/v14/lazy/bench/freshness/reset  zeroes them;
//   GET  /api/v14/lazy/bench/bucket-read?n=N  p50 ms of N reads of the 'all' buckets, timed here;
//   POST /api/v14/lazy/bench/recording?on=0|1 history recording of new captions off or on.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Post, Query, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppModule } from '../../src/app.module.js';
import { startServer } from '../../src/app/server.js';
import { loadConfig } from '../../src/config/app-config.js';
import { HistoryRepository } from '../../src/history/history.repository.js';
import { HistoryService } from '../../src/history/history.service.js';

@Controller('bench')
class BenchController implements OnModuleInit {
  private bucketMs = 0;
  private bucketReads = 0;
  private read!: HistoryRepository['readBuckets'];
  private record!: HistoryService['record'];

  private repo!: HistoryRepository;
  private history!: HistoryService;

  constructor(private readonly moduleRef: ModuleRef) {}

  onModuleInit(): void {
    this.repo = this.moduleRef.get(HistoryRepository, { strict: false });
    this.history = this.moduleRef.get(HistoryService, { strict: false });
    this.read = this.repo.readBuckets.bind(this.repo);
    this.record = this.history.record.bind(this.history);
    this.repo.readBuckets = async (scope) => {
      const t = performance.now();
      try {
        return await this.read(scope);
      } finally {
        this.bucketMs += performance.now() - t;
        this.bucketReads++;
      }
    };
  }

  @Get('freshness')
  freshness(): { reads: number; ms: number } {
    return { reads: this.bucketReads, ms: this.bucketMs };
  }

  @Post('freshness/reset')
  @HttpCode(204)
  reset(): void {
    this.bucketMs = 0;
    this.bucketReads = 0;
  }

  @Get('bucket-read')
  async bucketRead(@Query('n') n: string): Promise<{ p50: number }> {
    const ms: number[] = [];
    for (let i = 0; i < Number(n); i++) {
      const t = performance.now();
      await this.read('all');
      ms.push(performance.now() - t);
    }
    return { p50: ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]! };
  }

  @Post('recording')
  @HttpCode(204)
  recording(@Query('on') on: string): void {
    this.history.record = on === '1' ? this.record : async () => undefined;
  }
}

const config = loadConfig(process.env);

@Module({ imports: [AppModule.register(config)], controllers: [BenchController] })
class HistoryLiveServerModule {}

await startServer(HistoryLiveServerModule, config);
process.stdout.write(`LISTENING ${config.server.port}\n`);
