// A process killed with SIGKILL while the audit store is down and entries wait in its spool: the
// next process replays them, and the store ends with exactly the entries that were recorded or
// spooled, each once. Real PostgreSQL, the store cut by the TCP proxy, real processes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSpoolLine } from '../../src/core/outbox/spool.js';
import { PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import { createPrismaTestDatabase, type PrismaTestDatabase } from '../support/prisma-db.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { startFixture } from './processes.js';
import { allEntries, checkTrail } from './workload.js';

let db: PrismaTestDatabase;
let proxy: TcpProxy;
let dir: string;

beforeAll(async () => {
  db = await createPrismaTestDatabase('postgresql');
  proxy = await TcpProxy.forUrl(db.url, 5432);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flagtrail-crash-'));
});

afterAll(async () => {
  await proxy?.close();
  await db?.drop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('crash with a spool', () => {
  it('SIGKILL with entries pending: the next process replays them; the final count is exact', async () => {
    const spool = path.join(dir, 'outbox.jsonl');
    const acked = new Set<string>();
    const writer = startFixture(
      'spool-writer.ts',
      ['write', db.url, proxy.rewrite(db.url), spool],
      (line) => {
        if (!line.startsWith('ack ')) return;
        acked.add(line.slice(4));
        // Store up for the first 100 entries, then cut; killed with 400 acknowledged.
        if (acked.size === 100) proxy.cut();
        if (acked.size === 400) writer.process.kill('SIGKILL');
      },
    );
    const killed = await writer.exit;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');

    const recorded = new Set((await allEntries(new PrismaAuditStore(db.prisma))).map((e) => e.id));
    const spooled = new Set(
      fs
        .readFileSync(spool, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .flatMap((l) => {
          try {
            return [parseSpoolLine(l).id];
          } catch {
            return []; // a line torn by the kill: its write never resolved
          }
        }),
    );
    expect(recorded.size).toBeGreaterThanOrEqual(90);
    expect(spooled.size).toBeGreaterThanOrEqual(290);
    // Every acknowledged entry is either in the store or on disk.
    expect([...acked].filter((id) => !recorded.has(id) && !spooled.has(id))).toEqual([]);
    // The killed process left its lock file behind; the next one takes it over.
    expect(fs.existsSync(`${spool}.lock`)).toBe(true);

    proxy.restore();
    const replay = await startFixture('spool-writer.ts', ['replay', db.url, proxy.rewrite(db.url), spool])
      .exit;
    expect(replay.code, replay.stderr).toBe(0);
    const summary = JSON.parse(replay.stdout.trim());
    expect(summary).toEqual({ replayed: spooled.size, left: 0 });

    const entries = await allEntries(new PrismaAuditStore(db.prisma));
    const ids = new Set(entries.map((e) => e.id));
    expect(ids.size).toBe(entries.length);
    expect(entries.length).toBe(new Set([...recorded, ...spooled]).size);
    for (const id of acked) expect(ids.has(id)).toBe(true);
    expect(fs.readFileSync(spool, 'utf8')).toBe('');
    expect(fs.existsSync(`${spool}.lock`)).toBe(false);

    // Each flag's entries chain with no hole. Only a write in flight at the kill (at most one per
    // flag, four at once) can have changed its flag without leaving an entry: that shows at a
    // chain's end, never inside it.
    const features = Array.from({ length: 8 }, (_, i) => `flag-${i}`);
    const effective = new Map(entries.map((e) => [e.id, e]));
    const check = await checkTrail(entries, effective, new PrismaFlagAdapter(db.prisma), features);
    expect(check.broken).toEqual([]);
    expect(check.finalMismatch.length).toBeLessThanOrEqual(4);
  }, 120_000);
});
