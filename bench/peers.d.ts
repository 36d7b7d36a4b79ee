// Types for the benchmark peers that ship none (only what bench/ uses).

declare module 'parallel-transform' {
  import type { Transform } from 'node:stream';
  type Callback = (err: Error | null, value?: unknown) => void;
  function parallelTransform(
    maxParallel: number,
    options: { ordered?: boolean; objectMode?: boolean; highWaterMark?: number },
    transform: (item: unknown, callback: Callback) => void,
  ): Transform;
  function parallelTransform(maxParallel: number, transform: (item: unknown, callback: Callback) => void): Transform;
  export default parallelTransform;
}

declare module 'through2-concurrent' {
  import type { Transform } from 'node:stream';
  type Callback = (err: Error | null, value?: unknown) => void;
  const through2Concurrent: {
    obj(
      options: { maxConcurrency?: number; highWaterMark?: number },
      transform: (this: Transform, item: unknown, encoding: BufferEncoding, callback: Callback) => void,
    ): Transform;
  };
  export default through2Concurrent;
}
