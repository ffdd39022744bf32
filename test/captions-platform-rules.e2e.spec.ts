import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionsController } from '../src/captions/captions.controller.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const P = '/api/v14/lazy';
const base = { content_description: 'Homemade sourdough bread cooling on the kitchen counter' };
const OVER_FIVE = {
  error: 'validation_failed',
  message: 'hashtag_count must not be greater than 5 (HASHTAG_LIMIT)',
  details: [{ field: 'hashtag_count', message: 'must not be greater than 5 (HASHTAG_LIMIT)' }],
};
const ITEM_OVER_FIVE = { code: OVER_FIVE.error, message: OVER_FIVE.message, details: OVER_FIVE.details };

type Item = { index?: number; request_id?: string | null; success?: boolean; hashtags?: string[]; error?: unknown; batch_id?: string };
const ndjson = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Item);

describe(`${CaptionsController.name} platform rules`, () => {
  describe('with the default HASHTAG_LIMIT (5)', () => {
    let t: TestApp;
    const http = () => request(t.app.getHttpServer());
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(async () => t.close());

    it('gives five hashtags when the request names no count, and none of the default blocklist', async () => {
      const res = await http().post(`${P}/captions`).send({ ...base, variation_count: 5, content_type: 'reel', audience: 'gen_z' }).expect(200);
      for (const v of res.body.variations) {
        expect(v.hashtags).toHaveLength(5);
        for (const blocked of ['#reels', '#fyp', '#trending', '#instagood', '#viral', '#explore']) expect(v.hashtags).not.toContain(blocked);
      }
    });

    it.each([6, 30])('answers 422 naming the limit and the setting for hashtag_count %i on POST /captions', async (count) => {
      const res = await http().post(`${P}/captions`).send({ ...base, hashtag_count: count }).expect(422);
      expect(res.body).toMatchObject(OVER_FIVE);
      expect(typeof res.body.request_id).toBe('string');
    });

    it('holds the limit with hashtags off too, and keeps the DTO bound of 30 above it', async () => {
      const off = await http().post(`${P}/captions`).send({ ...base, hashtag_count: 6, include_hashtags: false }).expect(422);
      expect(off.body).toMatchObject(OVER_FIVE);
      const absolute = await http().post(`${P}/captions`).send({ ...base, hashtag_count: 31 }).expect(422);
      expect(absolute.body.details).toEqual([{ field: 'hashtag_count', message: 'must not be greater than 30' }]);
    });

    it.each(['application/json', 'application/x-ndjson', 'text/event-stream'])(
      'answers 422 before the first byte on POST /stream-captions (%s)',
      async (accept) => {
        const res = await http().post(`${P}/stream-captions?variations=3`).set('Accept', accept).send({ ...base, hashtag_count: 6 });
        expect(res.status).toBe(422);
        expect(res.headers['x-streaming']).toBeUndefined();
        expect(res.body).toMatchObject(OVER_FIVE);
      },
    );

    it('streams five hashtags an item by default', async () => {
      const res = await http().post(`${P}/stream-captions?variations=3`).set('Accept', 'application/x-ndjson').send(base).expect(200);
      const items = ndjson(res.text);
      expect(items).toHaveLength(3);
      for (const item of items) expect(item.hashtags).toHaveLength(5);
    });

    it('fails a JSON batch item over the limit with the error body, and goes on with the others', async () => {
      const requests = [0, 1, 2].map((i) => ({ ...base, request_id: `json-${i}`, variation_count: 1, ...(i === 1 ? { hashtag_count: 6 } : {}) }));
      const res = await http().post(`${P}/batch-process`).set('Accept', 'application/x-ndjson').send({ requests }).expect(200);
      const items = ndjson(res.text).filter((x) => !('batch_id' in x));
      expect(items).toHaveLength(3);
      const failed = items.find((x) => x.index === 1)!;
      expect(failed).toMatchObject({ request_id: 'json-1', success: false, caption: null, hashtags: [], error: ITEM_OVER_FIVE });
      for (const ok of items.filter((x) => x.index !== 1)) {
        expect(ok.success).toBe(true);
        expect(ok.hashtags).toHaveLength(5);
      }
      expect(ndjson(res.text).at(-1)).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    });

    it('fails an NDJSON batch line over the limit with the error body, and goes on with the others', async () => {
      const lines = [0, 1, 2].map((i) => JSON.stringify({ ...base, request_id: `nd-${i}`, variation_count: 1, hashtag_count: i === 2 ? 12 : 5 }));
      const res = await http()
        .post(`${P}/batch-process`)
        .set('Content-Type', 'application/x-ndjson')
        .set('Accept', 'application/x-ndjson')
        .send(`${lines.join('\n')}\n`)
        .expect(200);
      const items = ndjson(res.text).filter((x) => !('batch_id' in x));
      expect(items.find((x) => x.index === 2)).toMatchObject({ request_id: 'nd-2', success: false, error: ITEM_OVER_FIVE });
      expect(items.filter((x) => x.success)).toHaveLength(2);
    });
  });

  describe('with HASHTAG_LIMIT=30 and a blocklist of the description’s own words', () => {
    let t: TestApp;
    const http = () => request(t.app.getHttpServer());
    beforeAll(async () => {
      t = await createTestApp({ env: { HASHTAG_LIMIT: '30', HASHTAG_BLOCKLIST: 'Sourdough, #BREAD,#homemadesourdoughbread' } });
    });
    afterAll(async () => t.close());

    it('allows 30 hashtags on every route, none of them blocked', async () => {
      const blocked = ['#sourdough', '#bread', '#homemadesourdoughbread'];
      const res = await http().post(`${P}/captions`).send({ ...base, hashtag_count: 30, variation_count: 3 }).expect(200);
      for (const v of res.body.variations) {
        expect(v.hashtags).toHaveLength(30);
        expect(new Set(v.hashtags).size).toBe(30);
        for (const tag of blocked) expect(v.hashtags).not.toContain(tag);
      }
      const streamed = await http().post(`${P}/stream-captions?variations=2`).set('Accept', 'application/x-ndjson').send({ ...base, hashtag_count: 30 }).expect(200);
      for (const item of ndjson(streamed.text)) {
        expect(item.hashtags).toHaveLength(30);
        for (const tag of blocked) expect(item.hashtags).not.toContain(tag);
      }
      const batch = await http()
        .post(`${P}/batch-process`)
        .set('Accept', 'application/x-ndjson')
        .send({ requests: [{ ...base, hashtag_count: 30, variation_count: 1 }] })
        .expect(200);
      const [item] = ndjson(batch.text);
      expect(item).toMatchObject({ success: true });
      expect(item!.hashtags).toHaveLength(30);
      for (const tag of blocked) expect(item!.hashtags).not.toContain(tag);
    });

    it('still refuses 31 by the request’s absolute bound', async () => {
      const res = await http().post(`${P}/captions`).send({ ...base, hashtag_count: 31 }).expect(422);
      expect(res.body.details).toEqual([{ field: 'hashtag_count', message: 'must not be greater than 30' }]);
    });
  });
});
