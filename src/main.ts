import 'reflect-metadata';
import { AppModule } from './app.module.js';
import { SymlinkRefusedError } from './common/fs/private-paths.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { startServer } from './app/server.js';

// Whatever the service or its libraries create (databases, journals, cache files, directories)
// is for its own user only; the data directory holds the secret that signs history cursors.
process.umask(0o077);

try {
  const config = loadConfig(process.env);
  await startServer(AppModule.register(config), config);
} catch (err) {
  // A bad environment or a refused path: one clear line, no stack.
  if (err instanceof ConfigError || err instanceof SymlinkRefusedError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
