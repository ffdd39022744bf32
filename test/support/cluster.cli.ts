// `npm run cluster -- --replicas 3`: N replicas of the service on the machine's PostgreSQL and
// Redis behind a round-robin proxy that skips unready replicas; prints the proxy's URL and runs
// until Ctrl-C (then stops every replica gracefully). See docs/operations.md.
import { parseArgs } from 'node:util';
import { Cluster } from './cluster.js';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '3' },
    port: { type: 'string', default: '8080' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    schema: { type: 'string' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'no-redis': { type: 'boolean', default: false },
    sqlite: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`npm run cluster -- [--replicas 3] [--port 8080] [--database-url postgres://…] [--schema name]
                        [--redis-url redis://…] [--no-redis] [--sqlite]
  --sqlite    each replica on its own SQLite file (not one service: for comparison only)
  --no-redis  no shared Redis (rate limits per process, idempotency claims in the database)
Every other setting comes from the environment (.env is not read), as for one server.
`);
  process.exit(0);
}

const replicas = Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1) throw new Error('--replicas must be a positive integer');

const cluster = await Cluster.start({
  replicas,
  proxyPort: Number(values.port),
  databaseUrl: values.sqlite ? undefined : values['database-url'],
  schema: values.sqlite ? undefined : values.schema,
  redisUrl: values['no-redis'] ? undefined : values['redis-url'],
  output: 'inherit',
});
for (const r of cluster.replicas) process.stdout.write(`replica ${r.index}: ${r.url} (pid ${r.child?.pid}, DATA_DIR ${r.dataDir})\n`);
process.stdout.write(`Proxy: ${cluster.url}/api/v14/lazy\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('Stopping every replica…\n');
  cluster.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
