// Child node processes running TypeScript fixtures through tsx, as separate app instances would.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(ROOT, 'test/reliability/fixtures');

export interface Child {
  process: ChildProcess;
  /** Resolves with the exit code (or the signal name) and everything printed. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts `node --import tsx <fixture> ...args`; `onLine` sees each stdout line as it arrives. */
export function startFixture(fixture: string, args: string[], onLine?: (line: string) => void): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, fixture), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine?.(line);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<Awaited<Child['exit']>>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { process: child, exit };
}
