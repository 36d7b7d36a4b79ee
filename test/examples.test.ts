// Runs every ```ts block of every `@example` in lib/**/*.ts (and of README.md, if there is one) as a
// program of its own, so the documentation cannot rot.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = join(root, 'lib');
const index = join(lib, 'index.ts');
const testing = join(lib, 'testing', 'leak-check.ts');
const JOBS = 2;
const TIMEOUT = 20_000;

interface Example {
  file: string;
  n: number;
  title: string;
  code: string;
}

/** The ```ts blocks of the `@example` sections of each JSDoc comment in `source`, with their titles. */
function jsdocExamples(source: string): { title: string; code: string }[] {
  const found: { title: string; code: string }[] = [];
  for (const [comment] of source.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const lines = comment
      .replace(/^\/\*\*/, '')
      .replace(/\*\/$/, '')
      .split('\n')
      .map((line) => line.replace(/^\s*\* ?/, ''));
    let title: string | undefined;
    let block: string[] | undefined;
    for (const line of lines) {
      if (block !== undefined) {
        if (/^\s*```\s*$/.test(line)) {
          found.push({ title: title ?? 'untitled', code: block.join('\n') });
          block = undefined;
        } else {
          block.push(line);
        }
      } else if (/^@example\b/.test(line)) {
        title = line.replace(/^@example\s*/, '').trim() || 'untitled';
      } else if (/^@\w/.test(line)) {
        title = undefined;
      } else if (title !== undefined && /^\s*```ts\s*$/.test(line)) {
        block = [];
      }
    }
  }
  return found;
}

/** The ```ts blocks of a Markdown file, titled by the heading above each. */
function markdownExamples(source: string): { title: string; code: string }[] {
  const found: { title: string; code: string }[] = [];
  let heading = 'untitled';
  let block: string[] | undefined;
  for (const line of source.split('\n')) {
    if (block !== undefined) {
      if (/^\s*```\s*$/.test(line)) {
        found.push({ title: heading, code: block.join('\n') });
        block = undefined;
      } else {
        block.push(line);
      }
    } else if (/^#+\s/.test(line)) {
      heading = line.replace(/^#+\s*/, '').trim();
    } else if (/^\s*```ts\s*$/.test(line)) {
      block = [];
    }
  }
  return found;
}

function collect(): Example[] {
  const examples: Example[] = [];
  const files = readdirSync(lib, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .sort();
  for (const file of files) {
    const path = join(lib, file);
    jsdocExamples(readFileSync(path, 'utf8')).forEach(({ title, code }, i) => {
      examples.push({ file: relative(root, path), n: i + 1, title, code });
    });
  }
  const readme = join(root, 'README.md');
  if (existsSync(readme)) {
    markdownExamples(readFileSync(readme, 'utf8')).forEach(({ title, code }, i) => {
      examples.push({ file: 'README.md', n: i + 1, title, code });
    });
  }
  return examples;
}

/** The example as a program: `sluice` imports point into lib/, `assert` is in scope. */
function program(code: string): string {
  const rewritten = code
    .replace(/from\s+(['"])sluice\/testing\1/g, `from ${JSON.stringify(testing)}`)
    .replace(/from\s+(['"])sluice\1/g, `from ${JSON.stringify(index)}`);
  return `import assert from 'node:assert/strict';\n${rewritten}\n`;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runFile(file: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    // cwd is the repository, so that `--import tsx` resolves from its node_modules.
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs `tasks` with at most `jobs` at once; returns one promise per task, in order. */
function limited<T>(tasks: (() => Promise<T>)[], jobs: number): Promise<T>[] {
  let next = 0;
  const results: Promise<T>[] = [];
  const settle: ((value: Promise<T>) => void)[] = [];
  for (let i = 0; i < tasks.length; i++) results.push(new Promise<T>((resolve) => settle.push(resolve)));
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      const result = tasks[i]!();
      settle[i]!(result);
      await result.then(
        () => {},
        () => {},
      );
    }
  };
  for (let i = 0; i < Math.min(jobs, tasks.length); i++) void worker();
  return results;
}

// Dozens of child processes on a shared machine: more than tap's default 30 s per file.
t.setTimeout(120_000);

const examples = collect();
// A package.json of its own makes the temporary .ts files ES modules (top-level await).
const dir = mkdtempSync(join(tmpdir(), 'sluice-examples-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const files = examples.map((example, i) => {
  const file = join(dir, `example-${String(i).padStart(3, '0')}.ts`);
  writeFileSync(file, program(example.code));
  return file;
});
const outcomes = limited(
  files.map((file) => () => runFile(file)),
  JOBS,
);

t.ok(examples.length > 0, `found ${examples.length} examples`);
examples.forEach((example, i) => {
  t.test(`${example.file} example ${example.n}: ${example.title}`, async (t) => {
    const outcome = await outcomes[i]!;
    t.equal(outcome.code, 0, 'exits with 0', {
      signal: outcome.signal,
      stderr: outcome.stderr,
      stdout: outcome.stdout,
      program: program(example.code),
    });
  });
});
