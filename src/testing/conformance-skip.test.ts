import { describe, expect, it } from 'vitest';
import { conformanceTest } from './flag-adapter-conformance.js';

describe('conformance switch-offs', () => {
  it('need a written reason', () => {
    expect(() => conformanceTest({ 'some test': ' ' })).toThrow(/needs a written reason/);
  });

  it('must name a test the suite declares', () => {
    const test = conformanceTest({ 'a misspelt name': 'FerretDB lacks it' });
    expect(() => test.checkSkips()).toThrow('conformance: no test named "a misspelt name" to switch off');
  });
});
