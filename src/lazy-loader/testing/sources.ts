import Database from 'better-sqlite3';
import type { ChunkSource } from '../lazy-loader.types.js';

export interface Row {
  id: number;
  user_id: string;
  caption: string;
  hashtags: string;
  quality_score: number;
  created_at: string;
}

/**
 * A real SQLite table of `rows` caption-like rows and a `ChunkSource` over it (offset chunks,
 * newest first), counting its calls. Used by specs and the benchmark as a source that costs
 * what a real database read costs.
 */
export function sqliteSource(rows: number, key = 'captions', chunkSize?: number) {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE captions (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, caption TEXT NOT NULL,
    hashtags TEXT NOT NULL, quality_score REAL NOT NULL, created_at TEXT NOT NULL);
    CREATE INDEX captions_created ON captions(created_at DESC, id DESC);`);
  const insert = db.prepare('INSERT INTO captions VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= rows; i++) {
      const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
      insert.run(i, `user_${i % 97}`, `Golden hour over the bay, take ${i}: the light does the talking ✨`, JSON.stringify([`#sunset${i % 13}`, '#beach', '#goldenhour']), 60 + (i % 40), at);
    }
  })();
  const page = db.prepare('SELECT * FROM captions ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?');
  const calls: number[] = [];
  const source: ChunkSource<Row> = {
    key,
    chunkSize,
    async loadChunk(index, { chunkSize: size }) {
      calls.push(index);
      return page.all(size, index * size) as Row[];
    },
  };
  return { db, source, calls, close: () => db.close() };
}

/** A source of `total` numbered items whose loads wait for `release` (or resolve at once). */
export function countingSource(total: number, key = 'numbers', chunkSize = 10) {
  const calls: number[] = [];
  const signals: AbortSignal[] = [];
  const source: ChunkSource<number> = {
    key,
    chunkSize,
    async loadChunk(index, { chunkSize: size, signal }) {
      calls.push(index);
      signals.push(signal);
      const out: number[] = [];
      for (let i = index * size; i < Math.min(total, (index + 1) * size); i++) out.push(i);
      return out;
    },
  };
  return { source, calls, signals };
}
