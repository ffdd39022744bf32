/** Pointers and tagged values on 64-bit V8 without pointer compression (Node's own builds). */
const SLOT = 8;
const HEADER = 2 * SLOT;
const OBJECT_HEADER = 3 * SLOT;
const TWO_BYTE = /[\u0100-\uffff]/;
const roundUp = (n: number) => (n + SLOT - 1) & ~(SLOT - 1);

/**
 * Estimated bytes of JS heap that `value` holds once decoded: objects and arrays by their
 * slots, strings by length (two bytes a character once one lies past Latin-1), numbers outside
 * the small-integer range as heap numbers. What the memory tier counts against its budget:
 * rows as objects take about 1.5–2× their JSON, so counting JSON let the tier's heap outgrow
 * the budget that far. Shared parts (hidden classes, repeated strings) are counted per use:
 * an estimate from above. Cycles are not followed twice.
 */
export function heapBytesOf(value: unknown, seen?: Set<object>): number {
  switch (typeof value) {
    case 'string':
      return roundUp(HEADER + value.length * (TWO_BYTE.test(value) ? 2 : 1));
    case 'number':
      return Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 ? 0 : HEADER;
    case 'bigint':
      return HEADER + SLOT;
    case 'object': {
      if (value === null) return 0;
      if (seen?.has(value)) return 0;
      (seen ??= new Set()).add(value);
      if (Array.isArray(value)) {
        let n = HEADER + HEADER + value.length * SLOT;
        for (const v of value) n += heapBytesOf(v, seen);
        return n;
      }
      if (value instanceof Date) return OBJECT_HEADER + SLOT;
      if (ArrayBuffer.isView(value)) return OBJECT_HEADER + SLOT * 4;
      let n = OBJECT_HEADER;
      for (const k in value) n += SLOT + heapBytesOf((value as Record<string, unknown>)[k], seen);
      return n;
    }
    default:
      return 0;
  }
}
