import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '../common/metrics/metrics.js';
import type { LoaderMonitor } from '../lazy-loader/loader-ports.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { LazyLoaderStats } from '../lazy-loader/lazy-loader.types.js';

/**
 * The lazy loader's figures as Prometheus metrics. Counters and gauges are read from
 * the loader's `status()` when scraped (collect callbacks), so they cost nothing between scrapes; the load
 * duration histogram is fed by the loader's `onChunkLoad` events. The registry is per process and
 * tests build several apps: the metrics follow the loader of the app created last.
 */
let current: (() => LazyLoaderStats) | undefined;
const TIERS = ['memory', 'disk'] as const;

/** A counter whose value is a running total kept elsewhere: set on each scrape. */
function totalCounter(name: string, help: string, read: (s: LazyLoaderStats) => Array<[Record<string, string>, number]>) {
  return new Counter({
    name,
    help,
    labelNames: ['tier'],
    registers: [metricsRegistry],
    collect() {
      const stats = current?.();
      this.reset();
      if (stats) for (const [labels, value] of read(stats)) this.inc(labels, value);
    },
  });
}

function stateGauge(name: string, help: string, labelNames: string[], read: (s: LazyLoaderStats) => Array<[Record<string, string>, number]>) {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    collect() {
      const stats = current?.();
      this.reset();
      if (stats) for (const [labels, value] of read(stats)) this.set(labels, value);
    },
  });
}

const perTier = (pick: (s: LazyLoaderStats, tier: (typeof TIERS)[number]) => number) => (s: LazyLoaderStats) =>
  TIERS.map((tier) => [{ tier }, pick(s, tier)] as [Record<string, string>, number]);

totalCounter('lazy_loader_cache_hits_total', 'Chunk lookups served by a cache tier', perTier((s, t) => s.tiers[t].hits));
totalCounter('lazy_loader_cache_misses_total', 'Chunk lookups a cache tier could not serve', perTier((s, t) => s.tiers[t].misses));
totalCounter('lazy_loader_cache_evictions_total', 'Chunks evicted from a cache tier by its bounds', perTier((s, t) => s.tiers[t].evictions));
stateGauge('lazy_loader_cache_bytes', 'Bytes held by a cache tier', ['tier'], perTier((s, t) => s.tiers[t].bytes));
stateGauge('lazy_loader_cache_entries', 'Chunks held by a cache tier', ['tier'], perTier((s, t) => s.tiers[t].entries));
totalCounter('lazy_loader_disk_corrupt_entries_total', 'Disk entries that failed their integrity check (served as misses)', (s) => [[{}, s.tiers.disk.corrupt]]);
totalCounter('lazy_loader_compression_saved_bytes_total', 'Bytes saved by compressing disk entries', (s) => [[{}, s.compression_savings]]);
totalCounter('lazy_loader_source_retries_total', 'Source load attempts retried', (s) => [[{}, s.tiers.source.retries]]);
stateGauge('lazy_loader_active_pages', 'Page loads in progress', [], (s) => [[{}, s.active_pages]]);
stateGauge('lazy_loader_active_streams', 'Loader streams open', [], (s) => [[{}, s.active_streams]]);
stateGauge('lazy_loader_background_tasks', 'Prefetches, refreshes and scheduled runs in progress', [], (s) => [[{}, s.background_tasks]]);

/** Every source load (retries and backoff included), by outcome. */
export const chunkLoadDuration = new Histogram({
  name: 'lazy_loader_chunk_load_duration_seconds',
  help: 'Duration of chunk loads from the source in seconds, by outcome (ok, failed, timeout, aborted)',
  labelNames: ['outcome'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});

/** Connects the app's lazy loader to the metrics above for as long as the app lives. */
@Injectable()
export class LoaderMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly read = () => this.loader.status().stats;
  private unsubscribe?: () => void;

  constructor(@Inject(LazyLoaderService) private readonly loader: LoaderMonitor) {}

  onModuleInit(): void {
    current = this.read;
    this.unsubscribe = this.loader.onChunkLoad((e) => chunkLoadDuration.observe({ outcome: e.outcome }, e.seconds));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    if (current === this.read) current = undefined;
  }
}
