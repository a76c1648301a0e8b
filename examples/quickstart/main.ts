// The smallest flagtrail app: flags in memory, two people changing them, the trail printed.
// Run with `npx tsx examples/quickstart/main.ts`.
import { describeChange, Flags, withActor, withAuditTrail } from 'flagtrail';
import { MemoryFlagAdapter } from 'flagtrail/memory';

const audited = withAuditTrail(new MemoryFlagAdapter());
const flags = new Flags(audited);

const ada = { id: 'u-1', label: 'Ada', type: 'user' };
const grace = { id: 'u-2', label: 'Grace', type: 'user' };

await withActor(ada, () => flags.add('checkout'), { reason: 'new checkout flow' });
await withActor(ada, () => flags.enableActor('checkout', 'User;42'), { reason: 'try it on one account' });
await withActor(grace, () => flags.enableActor('checkout', 'User;42')); // no-op: not recorded
await withActor(grace, () => flags.enablePercentageOfActors('checkout', 10), { reason: 'start rollout' });
await withActor(grace, () => flags.enablePercentageOfActors('checkout', 25), { reason: 'metrics look good' });
await withActor(ada, () => flags.enableGroup('checkout', 'staff'));
await flags.disableActor('checkout', 'User;42'); // no withActor: the system actor

const trail = await audited.history({ feature: 'checkout' });
console.log(`${trail.length} changes to "checkout", newest first:\n`);
for (const entry of trail) {
  const who = entry.actor.label ?? entry.actor.id;
  const why = entry.context.reason ? `  (${entry.context.reason})` : '';
  console.log(
    `${entry.createdAt.toISOString()}  ${who.padEnd(6)}  ${describeChange(entry).join(', ')}${why}`,
  );
}
