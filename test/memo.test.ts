import test from 'ava';
import { Memo } from '../pipeline/util/memo.ts';

test('Memo: one make per key while pending or succeeded; every caller gets its value', async (t) => {
  const memo = new Memo<number>();
  let made = 0;
  const make = () => new Promise<number>((resolve) => { made++; setTimeout(() => resolve(made), 5); });
  const [a, b] = await Promise.all([memo.get('k', make), memo.get('k', make)]);
  t.deepEqual([a, b, made], [1, 1, 1]);
  t.is(await memo.get('k', make), 1);
  t.is(await memo.get('other', make), 2);
});

test('Memo: a failure is forgotten, the next call makes it again', async (t) => {
  const memo = new Memo<string>();
  await t.throwsAsync(memo.get('k', () => Promise.reject(new Error('lost reply'))), { message: 'lost reply' });
  t.is(await memo.get('k', async () => 'second'), 'second');
});

test('Memo: a value `keep` refuses is shared while pending, then forgotten', async (t) => {
  const memo = new Memo<number | undefined>();
  const present = (v: number | undefined) => v !== undefined;
  let calls = 0;
  const missing = async () => { calls++; return undefined; };
  const [a, b] = await Promise.all([memo.get('blob', missing, present), memo.get('blob', missing, present)]);
  t.deepEqual([a, b, calls], [undefined, undefined, 1]);
  t.is(await memo.get('blob', async () => 42, present), 42);
  t.is(await memo.get('blob', async () => 7, present), 42);
});
