import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

it('examples/quickstart prints the trail of both actors, newest first, without the no-op', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'examples/quickstart/main.ts'],
    { cwd: root },
  );
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toBe('6 changes to "checkout", newest first:');
  const rows = lines.slice(2).map((line) => line.replace(/^\S+\s+/, ''));
  expect(rows).toEqual([
    'system  actors: -User;42',
    'Ada     groups: +staff',
    'Grace   percentageOfActors: 10 -> 25  (metrics look good)',
    'Grace   percentageOfActors: 0 -> 10  (start rollout)',
    'Ada     actors: +User;42  (try it on one account)',
    'Ada     feature: added  (new checkout flow)',
  ]);
});
