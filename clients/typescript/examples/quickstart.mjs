// `npm run build -w clients/typescript && npm run example -w clients/typescript` against `npm start`
// (BASE_URL, API_KEY to point elsewhere).
import { createCaptionsClient, ndjsonItems, sseEvents } from '../dist/index.js';

const baseUrl = process.env.BASE_URL ?? 'http://localhost:3000';
const client = createCaptionsClient({ baseUrl, apiKey: process.env.API_KEY });
const P = '/api/v14/lazy';

const { data, error } = await client.POST(`${P}/captions`, {
  body: { content_description: 'Sunrise hike above the clouds with friends', style: 'inspirational', variation_count: 2 },
});
if (error) throw new Error(`${error.error}: ${error.message}`);
console.log('best caption:', data.variations[data.best_variation_index].caption);

const ndjson = await client.POST(`${P}/stream-captions`, {
  params: { query: { variations: 3 } },
  body: { content_description: 'Homemade pasta night' },
  headers: { Accept: 'application/x-ndjson' },
  parseAs: 'stream',
});
for await (const item of ndjsonItems(ndjson.response)) {
  if ('error' in item) throw new Error(item.message);
  console.log(`#${item.variation_index}`, item.caption);
}

const sse = await client.POST(`${P}/stream-captions`, {
  params: { query: { variations: 2 } },
  body: { content_description: 'Rainy day in a bookshop' },
  headers: { Accept: 'text/event-stream' },
  parseAs: 'stream',
});
for await (const e of sseEvents(sse.response)) console.log(e.event, e.event === 'variation' ? e.data.caption : e.data);

const page = await client.GET(`${P}/caption-history`, { params: { query: { page_size: 3 } } });
console.log('history rows:', page.data?.pagination.total_items);
