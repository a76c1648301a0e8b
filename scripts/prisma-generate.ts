// Generates the Prisma clients the tests, the demo and the benchmark use (one per provider, from
// prisma/flagtrail.prisma and its per-provider copies), offline. The vitest global setup does
// the same; run this to do it ahead of time: `npx tsx scripts/prisma-generate.ts`.
import { clientDir, ensurePrismaClients, TEST_PROVIDERS } from '../test/support/prisma-generate.js';

await ensurePrismaClients();
for (const provider of TEST_PROVIDERS) console.log(`prisma client (${provider}): ${clientDir(provider)}`);
