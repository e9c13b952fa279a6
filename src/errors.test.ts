// Every error class survives the trip through structured clone (what postMessage and IPC do) as itself.
import { describe, expect, it } from 'vitest';
import * as errors from './errors';
import { deserializeError, HostCrashedError, KvCacheFullError, serializeError, StarAttentionError, StarConfigError } from './errors';

const roundTrip = (e: unknown) => deserializeError(structuredClone(serializeError(e)));

describe('errors', () => {
  it('every exported class has a distinct code and its own name, and comes back as itself', () => {
    const classes = (Object.values(errors) as unknown[]).filter(
      (v): v is new (...a: never[]) => StarAttentionError => typeof v === 'function' && v.prototype instanceof StarAttentionError,
    );
    expect(classes.length).toBeGreaterThan(15);
    const codes = new Set<string>();
    for (const C of classes) {
      const made = C === HostCrashedError ? new HostCrashedError('host 1', 'exit 1') : new (C as unknown as new (m: string) => StarAttentionError)('boom');
      expect(made.name, C.name).toBe(C.name);
      expect(codes.has(made.code), made.code).toBe(false);
      codes.add(made.code);
      const back = roundTrip(made);
      expect(back, C.name).toBeInstanceOf(C);
      expect(back).toBeInstanceOf(Error);
      expect(back.message).toBe(made.message);
      expect((back as StarAttentionError).code).toBe(made.code);
      expect(back.name).toBe(made.name);
    }
  });

  it('keeps own fields and the stack, and built-in errors stay built-in', () => {
    const crash = roundTrip(new HostCrashedError('host 3', 'exit code 9')) as HostCrashedError;
    expect(crash.host).toBe('host 3');
    expect(crash.message).toMatch(/host "host 3" died: exit code 9/);
    const full = new KvCacheFullError('full');
    expect(roundTrip(full).stack).toBe(full.stack);
    expect(roundTrip(new RangeError('r'))).toBeInstanceOf(RangeError);
    const other = roundTrip(Object.assign(new Error('x'), { name: 'CustomError' }));
    expect([other.constructor, other.name]).toEqual([Error, 'CustomError']);
    expect(roundTrip('a string').message).toBe('a string');
    expect(roundTrip(new StarConfigError('s'))).not.toBeInstanceOf(KvCacheFullError);
  });
});
