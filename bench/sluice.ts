/**
 * The sluice API under test, loaded from the BUILT package (`dist/`, made by `npm run build`), so the
 * benchmarks measure what users run. Typed loosely here, in this one place, so that bench/ typechecks
 * before (and without) a build; once lib/index.ts exports all of these, `SluiceApi` can become
 * `typeof import('../lib/index.js')`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex, Writable } from 'node:stream';
import { MissingError } from './harness.js';

export interface SluiceApi {
  split(options?: { readonly [option: string]: unknown }): Duplex;
  chain(stages: ReadonlyArray<(value: never) => unknown>): Duplex;
  parallel<T, R>(
    fn: (item: T, context: { signal: AbortSignal }) => Promise<R>,
    options?: {
      concurrency?: number | 'auto';
      ordered?: boolean;
      retry?: { retries: number; minDelay: number; maxDelay: number; retryIf(error: unknown): boolean };
    },
  ): Duplex;
  tee(destinations: Writable[], options?: { passThrough?: boolean }): Duplex;
  /** Stages, then an optional `{ signal }`. */
  pipeline(...stages: unknown[]): Promise<void>;
}

// Resolved from this file, so it also works from the runner's transpiled copy (which links dist/).
const INDEX = new URL('../dist/index.js', import.meta.url);

/** Imports `dist/index.js` and checks that it exports `names`; throws `MissingError` when it does not. */
export async function loadSluice<K extends keyof SluiceApi>(...names: K[]): Promise<Pick<SluiceApi, K>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(INDEX.href)) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes('/dist/')) {
      throw new MissingError(`dist/ is not built or incomplete (npm run build): ${(err as Error).message}`);
    }
    throw err;
  }
  const absent = names.filter((name) => typeof mod[name] !== 'function');
  if (absent.length > 0) throw new MissingError(`dist/index.js does not export ${absent.join(', ')} (yet?)`);
  return mod as unknown as Pick<SluiceApi, K>;
}

/** The built `sluice` command; throws `MissingError` when it is not there. */
export function sluiceCli(root: string): string {
  const main = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new MissingError('dist/cli/main.js is not built (yet?)');
  return main;
}

/** The engine's switch between its generated path and its loop (an internal module of the build). */
export async function loadCodegen(): Promise<{ enabled: boolean }> {
  const url = new URL('../dist/internal/fuse.js', import.meta.url);
  try {
    return ((await import(url.href)) as { codegen: { enabled: boolean } }).codegen;
  } catch (err) {
    throw new MissingError(`dist/internal/fuse.js has no codegen switch (yet?): ${(err as Error).message}`);
  }
}
