import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { ModelCatalog } from './catalog.ts';
import { registerFeedbackRoutes } from './feedback-routes.ts';
import { describeError } from './http-errors.ts';
import { Api } from './routes.ts';
import { SampleCache, sampleBytes, type RememberedSample } from './samples.ts';

const base = { model: 'm', dir: '/models/m', family: 'vae', version: 'v1', seed: 0, settings: {} } satisfies RememberedSample;
const png = (bytes: number): RememberedSample => ({ ...base, file: { bytes: Buffer.alloc(bytes, 1), extension: 'png' } });

test('a sample counts its output bytes, its text and prompt, and its settings as JSON', () => {
  assert.equal(sampleBytes(png(1000)), 1000 + 2);
  assert.equal(sampleBytes({ ...base, prompt: 'And', text: 'And God said', settings: { index: 3 } }), 3 + 12 + '{"index":3}'.length);
});

test('past its byte budget the cache forgets the oldest samples first, and holds no more than the budget', () => {
  // Varied sizes and budgets, not one happy value: outputs of 3 KiB to 40 KiB into 100 and 256 KiB.
  for (const budget of [100 * 1024, 256 * 1024]) {
    const cache = new SampleCache(10_000, budget);
    const keys: string[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < 200; i++) {
      const size = 3 * 1024 + ((i * 7919) % (37 * 1024));
      keys.push(cache.remember(i % 3 === 2 ? { ...base, text: 'x'.repeat(size) } : png(size)));
      sizes.push(sampleBytes(i % 3 === 2 ? { ...base, text: 'x'.repeat(size) } : png(size)));
      assert.ok(cache.bytes <= budget, `${cache.bytes} bytes held after sample ${i}, over the budget of ${budget}`);
    }
    // What is kept is exactly the newest run of samples that fits, and nothing older.
    let fits = 0;
    let total = 0;
    while (fits < sizes.length && total + sizes[sizes.length - 1 - fits]! <= budget) total += sizes[sizes.length - 1 - fits++]!;
    assert.equal(cache.size, fits);
    assert.equal(cache.bytes, total);
    for (const [i, key] of keys.entries()) assert.equal(cache.get(key) !== undefined, i >= keys.length - fits, `sample ${i} of ${keys.length} (${fits} fit)`);
    assert.ok(fits < 100, 'the budget, not the capacity, did the forgetting');
  }
});

test('the count still bounds the cache when the samples are small', () => {
  const cache = new SampleCache(5, 2 ** 20);
  const keys = Array.from({ length: 8 }, () => cache.remember(png(10)));
  assert.equal(cache.size, 5);
  assert.deepEqual(keys.map((key) => cache.get(key) !== undefined), [false, false, false, true, true, true, true, true]);
  assert.equal(cache.bytes, 5 * sampleBytes(png(10)));
});

test('a sample alone bigger than the budget is kept until the next one, which pushes it out', () => {
  const cache = new SampleCache(100, 1000);
  const small = cache.remember(png(100));
  const huge = cache.remember(png(5000));
  assert.equal(cache.get(small), undefined);
  assert.ok(cache.get(huge), 'the newest sample is always kept: the client is about to rate it');
  const next = cache.remember(png(100));
  assert.equal(cache.get(huge), undefined);
  assert.ok(cache.get(next));
  assert.equal(cache.bytes, sampleBytes(png(100)));
});

test('a sample the budget pushed out is answered as gone (410) when rated', async () => {
  const cache = new SampleCache(2000, 4096);
  const forgotten = cache.remember(png(3000));
  cache.remember(png(3000));
  assert.equal(cache.get(forgotten), undefined);
  const app = Fastify();
  app.setErrorHandler((error, _request, reply) => {
    const { status, body } = describeError(error);
    void reply.status(status).send(body);
  });
  // A gone key is refused before the catalog or the store is touched: neither is needed here.
  const options = { dbPath: '/nonexistent/feedback.db' } as Parameters<typeof registerFeedbackRoutes>[0]['options'];
  registerFeedbackRoutes({ options, api: new Api(app), catalog: {} as ModelCatalog, onClose: () => {} }, [cache]);
  const response = await app.inject({ method: 'POST', url: '/api/feedback/ratings', payload: { sampleKey: forgotten, kind: 'thumbs', score: 1 } });
  assert.equal(response.statusCode, 410);
  assert.equal(response.json().error.code, 'GONE');
  await app.close();
});
