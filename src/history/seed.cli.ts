import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { openHistoryDatabase } from './history-database.js';
import { KyselyHistoryRepository } from './kysely-history.repository.js';
import { seedRows } from './seed-rows.js';

// `npm run seed -- --rows N [--users U] [--days D]`: fills the caption history wherever the
// service's own configuration points (DATA_DIR, DATABASE_URL), in bulk transactions.

const ROWS_PER_TRANSACTION = 20_000;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const usage = 'usage: npm run seed -- --rows N [--users U] [--days D] [--quiet]\n';
  let values: { rows?: string; users?: string; days?: string; quiet?: boolean };
  try {
    ({ values } = parseArgs({
      options: { rows: { type: 'string' }, users: { type: 'string' }, days: { type: 'string' }, quiet: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (values.rows === undefined) {
    process.stderr.write(usage);
    process.exit(2);
  }
  const plan = {
    rows: positiveInt('rows', values.rows, 0),
    users: positiveInt('users', values.users, 1000),
    days: positiveInt('days', values.days, 90),
    endMs: Date.now(),
  };
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const repo = new KyselyHistoryRepository(openHistoryDatabase(config.databaseUrl, { sqliteCacheKib: 256 * 1024 }));
  await repo.migrate();
  const started = performance.now();
  let lastReport = started;
  try {
    await repo.bulkLoad(async () => {
    for (let done = 0; done < plan.rows; done += ROWS_PER_TRANSACTION) {
      await repo.insertMany(seedRows(plan, done, ROWS_PER_TRANSACTION));
      const now = performance.now();
      if (!values.quiet && now - lastReport > 1000) {
        lastReport = now;
        const n = Math.min(plan.rows, done + ROWS_PER_TRANSACTION);
        process.stderr.write(`seeded ${n}/${plan.rows} rows (${Math.round(n / ((now - started) / 1000))} rows/s)\n`);
      }
    }
    });
  } finally {
    await repo.close();
  }
  const seconds = (performance.now() - started) / 1000;
  // CPU time too: on a shared machine the wall-clock rate says more about the neighbours.
  const resources = process.resourceUsage();
  const cpuSeconds = (resources.userCPUTime + resources.systemCPUTime) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ rows: plan.rows, seconds: Math.round(seconds * 1000) / 1000, rows_per_second: Math.round(plan.rows / seconds), cpu_seconds: Math.round(cpuSeconds * 100) / 100, rows_per_cpu_second: Math.round(plan.rows / cpuSeconds), database: config.databaseUrl.replace(/\/\/[^@]*@/, '//***@') })}\n`,
  );
}

await main();
