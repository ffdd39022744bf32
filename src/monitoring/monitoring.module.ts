import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';

/** Probes, stats and metrics. */
@Module({ controllers: [HealthController] })
export class MonitoringModule {}
