// The export baseline: what a naive service does — read every row into an array, build the whole
// JSON body, then send it. Run as a child process by bench/history.bench.ts so its RSS is its own.
import Database from 'better-sqlite3';
import { createServer } from 'node:http';

const db = new Database(process.env.DB_FILE, { readonly: true });
const sql = 'select * from caption_history order by created_at desc, id desc';
const server = createServer((req, res) => {
  if (!req.url.startsWith('/export')) return res.writeHead(404).end();
  const rows = db.prepare(sql).all().map((r) => ({
    id: String(r.id), user_id: r.user_id, caption: r.caption, hashtags: JSON.parse(r.hashtags), style: r.style,
    audience: r.audience, content_type: r.content_type, language: r.language, quality_score: r.quality_score,
    engagement_score: r.engagement_score, request_id: r.request_id, created_at: new Date(r.created_at).toISOString(),
  }));
  const body = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(body);
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
