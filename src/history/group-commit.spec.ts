import { describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit.js';

/** A store that records each transaction and fails any that holds a row named 'bad'. */
function fixture(maxRows = 100) {
  const transactions: string[][] = [];
  const durable: string[] = [];
  const sut = new GroupCommitter<string>(async (rows) => {
    transactions.push(rows);
    await Promise.resolve();
    if (rows.includes('bad')) throw new Error('constraint failed');
    durable.push(...rows);
  }, maxRows);
  return { sut, transactions, durable };
}

describe(GroupCommitter.name, () => {
  it('writes the rows of callers in one turn in one transaction, and answers each only after it committed', async () => {
    const { sut, transactions, durable } = fixture();
    const answered: string[] = [];
    const calls = ['a', 'b', 'c'].map((r) => sut.submit([r, `${r}2`]).then(() => answered.push(r) && durable.includes(r)));
    expect(await Promise.all(calls)).toEqual([true, true, true]);
    expect(transactions).toEqual([['a', 'a2', 'b', 'b2', 'c', 'c2']]);
    expect(answered).toEqual(['a', 'b', 'c']);
  });

  it('groups callers that arrive while a transaction runs into the next one', async () => {
    const { sut, transactions } = fixture();
    const first = sut.submit(['a']);
    await new Promise((r) => setImmediate(r));
    const later = [sut.submit(['b']), sut.submit(['c'])];
    await Promise.all([first, ...later]);
    expect(transactions).toEqual([['a'], ['b', 'c']]);
  });

  it('writes rows submitted from the rejection handler of a failed write (the database down: the caller stores again)', async () => {
    // The caller submits again a few microtask turns after its rejection (its own awaits): one of
    // these lands between the drain's last look at the queue and the end of the drain. A retry left
    // queued with no drain scheduled would never settle, and the spec would time out.
    for (let turns = 0; turns < 8; turns++) {
      const { sut, transactions } = fixture();
      await sut.submit(['bad']).catch(async () => {
        for (let i = 0; i < turns; i++) await Promise.resolve();
        return sut.submit(['again']);
      });
      expect(transactions).toEqual([['bad'], ['again']]);
    }
  });

  it('cuts a group at maxRows without splitting a caller', async () => {
    const { sut, transactions } = fixture(3);
    await Promise.all([sut.submit(['a', 'b']), sut.submit(['c', 'd']), sut.submit(['e']), sut.submit(['f', 'g', 'h', 'i'])]);
    expect(transactions).toEqual([['a', 'b'], ['c', 'd', 'e'], ['f', 'g', 'h', 'i']]);
  });

  it('fails only the callers whose rows fail, writing the others', async () => {
    const { sut, durable } = fixture();
    const results = await Promise.allSettled([sut.submit(['a']), sut.submit(['x', 'bad']), sut.submit(['c'])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('constraint failed'));
    expect(durable).toEqual(['a', 'c']);
  });

  it('settles once nothing waits', async () => {
    const { sut, durable } = fixture();
    void sut.submit(['a']);
    await sut.settled();
    expect(durable).toEqual(['a']);
  });
});
