import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { collectDefaultMetrics } from 'prom-client';
import { metricsRegistry } from '../common/metrics/metrics.js';
import { HistoryModule } from '../history/history.module.js';
import { HealthController } from './health.controller.js';
import { HealthService } from './health.service.js';
import { LoaderMetrics } from './loader-metrics.js';
import { MetricsAccess } from './metrics-access.js';
import { MetricsServer } from './metrics-server.js';
import { MetricsController } from './metrics.controller.js';
import { ShutdownState } from '../common/lifecycle/shutdown-state.js';
import { StatsController } from './stats.controller.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';

// Process metrics (CPU, memory, event loop lag, GC, handles) on the service's registry. Once per
// process: the registry is module-level, while tests build several apps.
if (!metricsRegistry.getSingleMetric('process_cpu_user_seconds_total')) {
  collectDefaultMetrics({ register: metricsRegistry });
}

/** Probes, stats, cache control and metrics. `ShutdownState` is read by the HTTP edge. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), LazyLoaderModule, HistoryModule],
  controllers: [HealthController, StatsController, MetricsController],
  providers: [HealthService, LoaderMetrics, ShutdownState, MetricsAccess, MetricsServer],
  exports: [ShutdownState],
})
export class MonitoringModule {}
