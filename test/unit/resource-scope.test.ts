/**
 * ResourceScope: closes in reverse order, once; a start that fails closes what it opened and rejects
 * with its own error, even when a close fails or hangs.
 */
import { describe, expect, it } from 'vitest';
import { ResourceScope } from '../../src/lifecycle/scope.js';

describe('ResourceScope', () => {
  it('closes last opened first, once however often it is asked', async () => {
    const closed: string[] = [];
    const scope = new ResourceScope();
    scope.add('a', 'a', (r) => void closed.push(r));
    await scope.open(
      'b',
      async () => 'b',
      (r) => void closed.push(r),
    );
    scope.add('c', 'c', async (r) => void closed.push(r));
    await Promise.all([scope.close(), scope.close()]);
    expect(closed).toEqual(['c', 'b', 'a']);
    expect(() => scope.add('d', 'd', () => {})).toThrow(/closed/);
  });

  it('closes what a failed start opened, reports a failing or hanging close, rethrows the start error', async () => {
    const closed: string[] = [];
    const failures: string[] = [];
    const scope = new ResourceScope({
      closeTimeoutMs: 50,
      onCloseFailure: (name, err) => failures.push(`${name}: ${(err as Error).message}`),
    });
    const start = scope.run(async (s) => {
      s.add('first', 1, () => void closed.push('first'));
      s.add('hangs', 2, () => new Promise(() => {}));
      s.add('throws', 3, () => {
        throw new Error('boom');
      });
      throw new Error('kafka refused');
    });
    await expect(start).rejects.toThrow('kafka refused');
    expect(closed).toEqual(['first']);
    expect(failures).toEqual(['throws: boom', 'hangs: closing hangs: no answer within 50 ms']);
  });
});
