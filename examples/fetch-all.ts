/**
 * A bounded, rate-limited parallel HTTP fetcher (Go's "bounded downloader" exercise): fetch N URLs
 * with at most `--concurrency` requests in flight, at most `--rate` started per second, a timeout per
 * request and retries with exponential backoff; results in input order.
 *
 *     node --import tsx examples/fetch-all.ts [--count 40] [--concurrency 8] [--rate 100] [--timeout 300]
 *
 * It starts its own HTTP server on 127.0.0.1 (an ephemeral port) that answers after 10–60 ms, fails
 * the first two tries of every tenth URL with a 503 (retried, then fine) and never answers URLs whose
 * number is a multiple of 17 (each try times out; after the retries the URL is reported as failed).
 * The fetcher counts the requests it has open at once, to show the bound held.
 *
 * The examples import the library's source so that they run without a build; in your project,
 * import from 'sluice'.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fromIterable, parallel, pipeline, rateLimit, TimeoutError } from '../lib/index.js';

/** A response with a 5xx status: worth another try. */
class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

interface Result {
  url: string;
  tries: number;
  ms: number;
  status?: number;
  error?: string;
}

/** The test server: slow, flaky and sometimes silent, deterministically by item number. */
async function startServer(): Promise<{ base: string; close: () => Promise<void> }> {
  const tries = new Map<number, number>();
  const server = createServer((req, res: ServerResponse) => {
    const id = Number(/^\/items\/(\d+)$/.exec(req.url ?? '')?.[1] ?? NaN);
    if (Number.isNaN(id)) {
      res.writeHead(404).end();
      return;
    }
    const attempt = (tries.get(id) ?? 0) + 1;
    tries.set(id, attempt);
    if (id % 17 === 0) return; // never answers
    const timer = setTimeout(
      () => {
        if (id % 10 === 3 && attempt <= 2) res.writeHead(503).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, attempt }));
      },
      10 + ((id * 37) % 50),
    );
    res.on('close', () => clearTimeout(timer)); // answered, or the client gave up
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '40' },
      concurrency: { type: 'string', default: '8' },
      rate: { type: 'string', default: '100' },
      timeout: { type: 'string', default: '300' },
    },
  });
  const [count, concurrency, rate, timeout] = [values.count, values.concurrency, values.rate, values.timeout].map(Number) as [number, number, number, number];
  const server = await startServer();
  const urls = Array.from({ length: count }, (_, i) => `${server.base}/items/${i + 1}`);
  const tries = new Map<string, number>();
  let open = 0;
  let mostOpen = 0;
  const started = performance.now();
  const results: Result[] = [];
  try {
    await pipeline(
      fromIterable(urls),
      // Requests start at no more than `rate` per second (a burst of `concurrency` to begin with)…
      rateLimit<string>({ rate, burst: concurrency }),
      // …and at most `concurrency` are in flight. `signal` aborts on the per-try timeout, so the
      // request is cancelled rather than left running.
      parallel(
        async (url: string, { signal }): Promise<Result> => {
          const t0 = performance.now();
          tries.set(url, (tries.get(url) ?? 0) + 1);
          // A request is open until it settles, or until its timeout aborts it (then the pool may
          // start the next one at once, before the aborted fetch has even unwound).
          mostOpen = Math.max(mostOpen, ++open);
          let closed = false;
          const close = (): void => {
            if (!closed) open--;
            closed = true;
          };
          signal.addEventListener('abort', close, { once: true });
          try {
            const res = await fetch(url, { signal });
            if (res.status >= 500) throw new HttpError(res.status);
            await res.arrayBuffer(); // read the body, so that the connection can serve the next request
            return { url, tries: tries.get(url)!, ms: performance.now() - t0, status: res.status };
          } finally {
            close();
            signal.removeEventListener('abort', close);
          }
        },
        {
          concurrency,
          timeout,
          retry: { retries: 2, minDelay: 50, factor: 2, retryIf: (err) => err instanceof TimeoutError || err instanceof HttpError },
          // After the last try, report the URL instead of failing the whole run.
          onError: (err, url) => ({ url, tries: tries.get(url) ?? 0, ms: 0, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
        },
      ),
      async (done: AsyncIterable<unknown>) => {
        for await (const item of done) {
          const r = item as Result;
          results.push(r);
          const path = new URL(r.url).pathname;
          const retried = r.tries > 1 ? ` after ${r.tries} tries` : '';
          console.log(r.error === undefined ? `${r.status} ${path}${retried} (${r.ms.toFixed(0)} ms)` : `FAILED ${path}${retried}: ${r.error}`);
        }
      },
    );
  } finally {
    await server.close();
  }
  const failed = results.filter((r) => r.error !== undefined).length;
  const retried = results.filter((r) => r.tries > 1).length;
  console.log(
    `\n${results.length} URLs: ${results.length - failed} ok, ${failed} failed, ${retried} retried, in ` +
      `${((performance.now() - started) / 1000).toFixed(2)} s; at most ${mostOpen} requests open at once (limit ${concurrency})`,
  );
}

await main().catch((err: unknown) => {
  console.error(`fetch-all: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
