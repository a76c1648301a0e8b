// vitest globalSetup: generate the test Prisma clients once per run, before any test file loads.
import { ensurePrismaClients } from './prisma-generate.js';

export default async function setup(): Promise<void> {
  await ensurePrismaClients();
}
