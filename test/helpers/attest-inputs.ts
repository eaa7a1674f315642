/** Seeded inputs for the attestation document tests: a small PRNG and random SBOM inputs from it. */
import { createHash } from 'node:crypto';
import type { SbomInput } from '../../pipeline/attest/sbom.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sha512 = (s: string) => createHash('sha512').update(s).digest('hex');

/** mulberry32: a small seeded PRNG, so the generated inputs are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const word = (r: () => number) => Array.from({ length: 3 + Math.floor(r() * 8) }, () => pick(r, [...'abcdefghijklmnopqrstuvwxyz-_.0123456789'])).join('').replace(/^[-_.]+/, 'x');
export const shuffled = <T>(r: () => number, xs: T[]): T[] => xs.map((x) => [r(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);

export function randomSbomInput(r: () => number): SbomInput {
  const image = word(r);
  const platform = pick(r, ['linux/amd64', 'linux/arm64', 'linux/arm64/v8', 'linux/s390x']);
  return {
    image,
    repository: `${pick(r, ['127.0.0.1:5000', 'public.ecr.aws/eks-distro'])}/${word(r)}/${image}`,
    digest: `sha256:${sha256(word(r) + r())}`,
    platform,
    version: `v1.${Math.floor(r() * 40)}.${Math.floor(r() * 10)}`,
    ...(r() < 0.8 ? { parent: { reference: `127.0.0.1:5000/eks-distro-base/${word(r)}:${word(r)}`, digest: `sha256:${sha256(String(r()))}` } } : {}),
    artifacts: Array.from({ length: Math.floor(r() * 5) }, () => {
      const name = `${word(r)}${pick(r, ['', '.tar.gz', '.zip'])}`;
      const version = r() < 0.7 ? `v${Math.floor(r() * 9)}.${Math.floor(r() * 9)}` : undefined;
      const license = r() < 0.5 ? pick(r, ['Apache-2.0', 'MIT', 'BSD-3-Clause', 'MIT OR Apache-2.0', 'Some Vendor Licence']) : undefined;
      const body = word(r) + r();
      return { name, ...(version ? { version } : {}), uri: `https://artifacts.example/${word(r)}/${name}`, sha256: sha256(body), sha512: sha512(body), ...(license ? { license } : {}) };
    }),
    layers: Array.from({ length: Math.floor(r() * 3) }, () => ({
      digest: `sha256:${sha256(String(r()))}`,
      files: Array.from({ length: Math.floor(r() * 6) }, () => ({ path: `${word(r)}/${word(r)}`, sha256: sha256(String(r())) })),
    })),
  };
}
