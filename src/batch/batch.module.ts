import { Module } from '@nestjs/common';
import { CaptionsModule } from '../captions/captions.module.js';
import { BatchController } from './batch.controller.js';
import { BatchGenerator } from './batch.generator.js';
import { BatchService } from './batch.service.js';
import { IdempotencyStore } from './idempotency.store.js';

/**
 * Batch processing (`POST /batch-process`): uses the captions module's service and engine to
 * generate and the history module to record. Exports nothing.
 */
@Module({
  imports: [CaptionsModule],
  controllers: [BatchController],
  providers: [BatchService, BatchGenerator, IdempotencyStore],
})
export class BatchModule {}
