import { describe, expect, it } from 'vitest';
import { ExportSlots, type ExportSlot } from './export-slots.js';

const taken = (s: ExportSlot | string): ExportSlot => {
  if (typeof s === 'string') throw new Error(`refused: ${s}`);
  return s;
};

describe(ExportSlots.name, () => {
  it('refuses a client at its cap and everyone at the service cap', () => {
    const sut = new ExportSlots(3, 2);
    taken(sut.acquire('a'));
    taken(sut.acquire('a'));
    expect(sut.acquire('a')).toBe('client');
    taken(sut.acquire('b'));
    expect(sut.acquire('c')).toBe('service');
    expect(sut.active).toBe(3);
  });

  it('frees a slot once, however often it is released', () => {
    const sut = new ExportSlots(2, 2);
    const first = taken(sut.acquire('a'));
    taken(sut.acquire('b'));
    first.release();
    first.release();
    expect(sut.active).toBe(1);
    taken(sut.acquire('c'));
    expect(sut.acquire('a')).toBe('service');
  });

  it('lets a client run again after its exports end', () => {
    const sut = new ExportSlots(5, 1);
    taken(sut.acquire('a')).release();
    taken(sut.acquire('a'));
    expect(sut.acquire('a')).toBe('client');
  });

  it.each([[0, 1], [1, 0], [1.5, 1], [Number.NaN, 1]])('refuses caps that are not positive integers (%s, %s)', (all, perClient) => {
    expect(() => new ExportSlots(all, perClient)).toThrow(RangeError);
  });
});
