/**
 * adaptive: `parallel(…, { concurrency: 'auto' })` against a service on localhost (another process)
 * whose capacity it does not know, beside fixed concurrencies swept around that capacity. The service
 * takes `capacity` requests at once, `work` ms each; more wait their turn inside it (latency climbs
 * with the queue), and past twice the capacity it answers 429 at once (retried after a backoff). The
 * `drop` case halves the capacity half-way through the run, as a service losing instances would:
 * the best fixed setting before is too high after. The figure to read is 'auto' against the best
 * fixed setting of the same case.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { range, sumSink, type Job, type Scenario, type Variant } from './harness.js';
import { loadSluice } from './sluice.js';

interface Params {
  requests: number;
  capacity: number;
  work: number;
  /** Served requests after which the capacity becomes `dropTo`. */
  dropAfter: number;
  dropTo: number;
}

// The service, a program of its own so that its event loop does not share the client's.
const SERVICE = `
const http = require('node:http');
const [capacity, work, dropAfter, dropTo] = process.argv.slice(1).map(Number);
let limit = capacity, busy = 0, inside = 0, served = 0, refused = 0;
const waiting = [];
const serve = (reply) => {
  busy++;
  setTimeout(() => {
    busy--;
    if (++served === dropAfter) limit = dropTo;
    reply();
    while (busy < limit && waiting.length > 0) serve(waiting.shift());
  }, work);
};
const server = http.createServer((req, res) => {
  if (req.url === '/refused') return res.end(String(refused));
  if (inside >= 2 * limit) {
    refused++;
    return res.writeHead(429).end();
  }
  inside++;
  const reply = () => { inside--; res.end('1'); };
  if (busy < limit) serve(reply); else waiting.push(reply);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function startService(p: Params): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SERVICE, String(p.capacity), String(p.work), String(p.dropAfter), String(p.dropTo)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: `http://127.0.0.1:${data.toString().trim()}/`, child };
}

class TooMany extends Error {}

function variant(name: string, concurrency: number | 'auto', sluice = false): Variant<Params> {
  return {
    name,
    sluice,
    async setup(params) {
      const { parallel } = await loadSluice('parallel');
      const { url, child } = await startService(params);
      const call = async (): Promise<number> => {
        const res = await fetch(url);
        const body = await res.text();
        if (res.status === 429) throw new TooMany();
        return Number(body);
      };
      const job: Job = async () => {
        const { sink, work } = sumSink();
        try {
          await pipeline(
            Readable.from(range(params.requests)),
            parallel(call, { concurrency, retry: { retries: 50, minDelay: 5, maxDelay: 200, retryIf: (error) => error instanceof TooMany } }),
            sink,
          );
          const refused = Number(await (await fetch(`${url}refused`)).text());
          return { ...work(), extra: { refused } };
        } finally {
          child.kill();
        }
      };
      return job;
    },
  };
}

const FIXED = [5, 10, 20, 30, 40];

export const scenario: Scenario<Params> = {
  description: "requests to a localhost service of unknown capacity: concurrency 'auto' vs fixed settings",
  unit: 'requests',
  async prepare({ quick }) {
    const requests = quick ? 600 : 6_000;
    const base = { requests, capacity: 20, work: 10 };
    return [
      {
        name: 'steady',
        title: 'capacity 20 calls at once, 10 ms each; 429 past 40',
        params: { ...base, dropAfter: 0, dropTo: 20 },
        items: requests,
        expect: { items: requests, check: requests },
      },
      {
        name: 'drop',
        title: 'capacity 20, then 10 half-way through',
        params: { ...base, dropAfter: requests / 2, dropTo: 10 },
        items: requests,
        expect: { items: requests, check: requests },
      },
    ];
  },
  variants: [...FIXED.map((c) => variant(`parallel c${c}`, c)), variant("sluice parallel 'auto'", 'auto', true)],
  columns: [{ key: 'refused', label: '429s', format: (n) => String(n) }],
  targets: [
    { case: 'steady', variant: "sluice parallel 'auto'", vs: 'parallel c20', atLeast: 0.9 },
    { case: 'drop', variant: "sluice parallel 'auto'", vs: 'parallel c20', atLeast: 0.9 },
  ],
};
