/** The plan id of a split release (plan/plan-id.ts): the same inputs give the same id; each input changes it. */
import test from 'ava';
import { cpSync, mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planIdOf, type PlanIdInput } from '../pipeline/plan/plan-id.ts';
import { REPO_ROOT } from './helpers/project.ts';

function checkout(t: { teardown(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'eksd-plan-id-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, 'images'), join(root, 'images'), { recursive: true });
  cpSync(join(REPO_ROOT, 'base'), join(root, 'base'), { recursive: true });
  return root;
}

const input = (root: string): PlanIdInput => ({
  root, pin: { reference: 'r/amazonlinux:2', digest: 'sha256:aa', platforms: { 'linux/amd64': 'sha256:bb', 'linux/arm64': 'sha256:cc' }, file: join(root, 'pin.yaml') },
  numbers: { '1-33': 4, '1-32': 9 }, force: false, assemble: true,
});

test('two checkouts of the same commit compute the same id, whatever their path, pin file or key order', (t) => {
  const a = input(checkout(t));
  const b = input(checkout(t));
  const id = planIdOf(a);
  t.regex(id, /^plan-[0-9a-f]{16}$/);
  t.is(planIdOf({ ...b, numbers: { '1-32': 9, '1-33': 4 }, pin: { ...b.pin, platforms: { 'linux/arm64': 'sha256:cc', 'linux/amd64': 'sha256:bb' } } }), id);
});

test('the catalog, the pin, a release number and each flag change the id', (t) => {
  const root = checkout(t);
  const base = input(root);
  const id = planIdOf(base);
  t.not(planIdOf({ ...base, pin: { ...base.pin, digest: 'sha256:ab' } }), id);
  t.not(planIdOf({ ...base, numbers: { ...base.numbers, '1-33': 5 } }), id);
  t.not(planIdOf({ ...base, force: true }), id);
  t.not(planIdOf({ ...base, assemble: false }), id);
  appendFileSync(join(root, 'images', 'channels.yaml'), '# changed\n');
  t.not(planIdOf(base), id);
});
