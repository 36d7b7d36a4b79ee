// Checkpoints (lib/internal/checkpoint.ts) through the engine's stages: a checkpoint passes on only
// once every item written before it has left the stage.
import t from 'tap';
import fc from 'fast-check';
import { setImmediate as tick } from 'node:timers/promises';
import { chain } from '../lib/chain.js';
import { filter } from '../lib/filter.js';
import { map } from '../lib/map.js';
import { parallel } from '../lib/parallel.js';
import { toArray } from '../lib/to-array.js';
import { Checkpoint, isCheckpoint, passesCheckpoints } from '../lib/internal/checkpoint.js';

/** Items with a checkpoint after every `every` of them; each checkpoint records, when it passes, how many items had come out. */
function marked(n: number, every: number, seen: { out: number; at: number[] }): unknown[] {
  const items: unknown[] = [];
  for (let i = 0; i < n; i++) {
    items.push(i);
    if ((i + 1) % every === 0) {
      const before = i + 1;
      items.push(new Checkpoint(() => seen.at.push(before)));
    }
  }
  return items;
}

t.test('Checkpoint.fork() resolves the original once every copy is resolved', async (t) => {
  let done = 0;
  const cp = new Checkpoint(() => done++);
  const [a, b] = cp.fork(2);
  a!.resolve();
  t.equal(done, 0);
  b!.resolve();
  t.equal(done, 1);
  b!.resolve();
  t.equal(done, 1, 'once');
  let none = 0;
  new Checkpoint(() => none++).fork(0);
  t.equal(none, 1, 'no branch: resolved at once');
});

for (const [name, make] of [
  ['map() one at a time', () => map(async (n: number) => { if (n % 3 === 0) await tick(); return n; })],
  ['chain() with concurrency, ordered', () => chain([async (n: number) => { if (n % 3 === 0) await tick(); return n; }], { concurrency: 4 })],
  ['parallel(), unordered', () => parallel(async (n: number) => { await (n % 2 === 0 ? tick() : undefined); return n; }, { concurrency: 4, ordered: false })],
  ['filter()', () => filter((n: number) => n % 2 === 0)],
] as const) {
  t.test(`${name} passes a checkpoint on only after every item written before it`, async (t) => {
    t.ok((make() as unknown as Record<symbol, boolean>)[passesCheckpoints]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 7 }), async (n, every) => {
        const seen = { out: 0, at: [] as number[] };
        const stage = make();
        const out = await toArray(marked(n, every, seen), stage as never);
        // Before each checkpoint came out, every item written before it had come out (or was dropped).
        let items = 0;
        let checkpoints = 0;
        for (const item of out) {
          if (isCheckpoint(item)) {
            checkpoints++;
            const before = checkpoints * every;
            const expectedOut = name === 'filter()' ? Math.ceil(before / 2) : before;
            if (items < expectedOut) throw new Error(`checkpoint after ${before} passed with only ${items} items out`);
          } else items++;
        }
        t.equal(checkpoints, Math.floor(n / every));
      }),
      { numRuns: 40 },
    );
  });
}
