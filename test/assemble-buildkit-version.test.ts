/** Which BuildKit the engine runs, from its `/version` answer, and whether it takes SOURCE_DATE_EPOCH (0.13+). */
import test from 'ava';
import { engineBuildKit, takesSourceDateEpoch } from '../pipeline/builders/buildkit/version.ts';

test('Docker 20.10 vendors BuildKit 0.8: no SOURCE_DATE_EPOCH', (t) => {
  const v = engineBuildKit({ Version: '20.10.24+dfsg1', Components: [{ Name: 'Engine', Version: '20.10.24+dfsg1' }, { Name: 'containerd', Version: '1.6.20' }] });
  t.is(v, '0.8');
  t.false(takesSourceDateEpoch(v));
});

test('engines from 26.0 vendor BuildKit 0.13 or later', (t) => {
  t.is(engineBuildKit({ Version: '25.0.5' }), '0.12');
  t.false(takesSourceDateEpoch(engineBuildKit({ Version: '25.0.5' })));
  t.is(engineBuildKit({ Version: '26.0.0' }), '0.13');
  t.true(takesSourceDateEpoch(engineBuildKit({ Version: '26.1.4' })));
  t.true(takesSourceDateEpoch(engineBuildKit({ Version: '28.3.0' })));
});

test('a BuildKit component the engine lists wins over the engine version', (t) => {
  t.is(engineBuildKit({ Version: '20.10.7', Components: [{ Name: 'BuildKit', Version: 'v0.13.2' }] }), '0.13.2');
  t.true(takesSourceDateEpoch('0.13.2'));
  t.false(takesSourceDateEpoch('0.12.5'));
  t.true(takesSourceDateEpoch('0.20.0'), 'compared as numbers, not strings');
});

test('an engine that says nothing, or is older than any known, gets no SOURCE_DATE_EPOCH', (t) => {
  t.is(engineBuildKit({}), undefined);
  t.false(takesSourceDateEpoch(engineBuildKit({})));
  t.is(engineBuildKit({ Version: '19.03.15' }), undefined);
  t.false(takesSourceDateEpoch(undefined));
});
