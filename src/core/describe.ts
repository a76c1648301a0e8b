import type { AuditEntry, FlagState, GateValues, JsonObject } from './types.js';

function onOff(value: boolean): string {
  return value ? 'on' : 'off';
}

function setChanges(name: string, before: string[], after: string[]): string[] {
  const was = new Set(before);
  const is = new Set(after);
  const lines: string[] = [];
  for (const member of after) if (!was.has(member)) lines.push(`${name}: +${member}`);
  for (const member of before) if (!is.has(member)) lines.push(`${name}: -${member}`);
  return lines;
}

function showExpression(expression: JsonObject | null): string {
  return expression === null ? 'none' : JSON.stringify(expression);
}

function gateChanges(before: GateValues, after: GateValues): string[] {
  const lines: string[] = [];
  if (before.boolean !== after.boolean)
    lines.push(`boolean: ${onOff(before.boolean)} -> ${onOff(after.boolean)}`);
  const beforeExpr = showExpression(before.expression);
  const afterExpr = showExpression(after.expression);
  if (beforeExpr !== afterExpr) lines.push(`expression: ${beforeExpr} -> ${afterExpr}`);
  lines.push(...setChanges('actors', before.actors, after.actors));
  for (const gate of ['percentageOfActors', 'percentageOfTime'] as const) {
    if (before[gate] !== after[gate]) lines.push(`${gate}: ${before[gate]} -> ${after[gate]}`);
  }
  lines.push(...setChanges('groups', before.groups, after.groups));
  return lines;
}

/**
 * One readable line per change of an entry, for logs, UIs and CLIs.
 *
 * @example
 * ```ts
 * describeChange(entry); // ['actors: +42', 'percentageOfActors: 10 -> 25']
 * ```
 */
export function describeChange(entry: Pick<AuditEntry, 'before' | 'after'>): string[] {
  const before: FlagState = entry.before;
  const after: FlagState = entry.after;
  const lines: string[] = [];
  if (!before.exists && after.exists) lines.push('feature: added');
  if (before.exists && !after.exists) lines.push('feature: removed');
  lines.push(...gateChanges(before.gates, after.gates));
  return lines;
}
