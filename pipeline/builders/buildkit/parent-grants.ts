/**
 * What the parents' endpoint may serve: the parents granted to running builds, each under its proxied
 * name, with every digest it is made of (the index, the manifests it lists, their configs and layers),
 * counted per build that holds it so that a release takes away only that build's part.
 */
import { Memo } from '../../util/memo.ts';
import { EksdError } from '../../errors.ts';
import type { ImageSource } from '../../registry/image.ts';
import type { Manifest } from '../../registry/manifests.ts';

/** A parent served to one build: the name the engine pulls it from, until `release`. */
export interface ParentGrant {
  /** `127.0.0.1:PORT/<token>/<registry>/<repository>`: pull `<name>@<digest>`. */
  name: string;
  release(): void;
}

/** A parent repository being served: where it lives, the digests it may serve, and how many builds hold it. */
export interface Served { source: ImageSource; digests: Map<string, number>; holders: number }

/** The proxied name of a registry's repository: the registry host as one path component, then the repository. */
export function proxiedName(registry: string, repository: string): string {
  return `${registry.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^[.-]+|[.-]+$/g, '')}/${repository}`;
}

export class ParentGrants {
  /** By name after the host: `<token>/<registry>/<repository>`. */
  private readonly sources = new Map<string, Served>();
  private readonly manifests = new Memo<Manifest>();

  /** `token`: the random first path component of every name served. */
  constructor(private readonly token: string) {}

  /** The parent served under a name (after the host), while a build holds it. */
  served(name: string): Served | undefined {
    return this.sources.get(name);
  }

  /** Takes every grant away at once (the endpoint closes). */
  clear(): void {
    this.sources.clear();
  }

  /** Registers the parent and every digest it is made of, for one build; undone by the grant's release. */
  async grant(host: string, source: ImageSource, digest: string): Promise<ParentGrant> {
    const name = `${this.token}/${proxiedName(source.client.registry, source.repository)}`;
    const known = this.sources.get(name);
    if (known && (known.source.client.registry !== source.client.registry || known.source.repository !== source.repository)) {
      throw new EksdError('BUILD_PARENT_PROXY', `${source.client.describe(source.repository)} and ${known.source.client.describe(known.source.repository)} would share the name ${name}`, {
        where: name, hint: 'name the registries so that they differ in more than punctuation',
      });
    }
    const digests = await this.contentOf(name, source, digest);
    const served = this.sources.get(name) ?? { source, digests: new Map<string, number>(), holders: 0 };
    this.sources.set(name, served);
    served.holders++;
    for (const d of digests) served.digests.set(d, (served.digests.get(d) ?? 0) + 1);
    let released = false;
    return {
      name: `${host}/${name}`,
      release: () => {
        if (released) return;
        released = true;
        this.release(name, served, digests);
      },
    };
  }

  /** Manifests are small and asked for by every build of a child: each is read once and kept while the endpoint runs. */
  manifest(name: string, source: ImageSource, digest: string): Promise<Manifest> {
    return this.manifests.get(`${name}@${digest}`, () => source.client.getManifest(source.repository, digest));
  }

  private release(name: string, served: Served, digests: string[]): void {
    for (const d of digests) {
      const left = (served.digests.get(d) ?? 1) - 1;
      if (left > 0) served.digests.set(d, left); else served.digests.delete(d);
    }
    if (--served.holders === 0 && this.sources.get(name) === served) this.sources.delete(name);
  }

  /** The digests a parent is made of: itself, the manifests an index lists, and each manifest's config and layers. */
  private async contentOf(name: string, source: ImageSource, digest: string): Promise<string[]> {
    const out = new Set<string>([digest]);
    const walk = async (d: string, depth: number): Promise<void> => {
      const m = await this.manifest(name, source, d);
      const json = m.json as { manifests?: Array<{ digest: string }>; config?: { digest: string }; layers?: Array<{ digest: string }> };
      if (json.config) out.add(json.config.digest);
      for (const l of json.layers ?? []) out.add(l.digest);
      const children = depth === 0 ? (json.manifests ?? []).map((c) => c.digest) : [];
      for (const c of children) out.add(c);
      await Promise.all(children.map((c) => walk(c, depth + 1)));
    };
    await walk(digest, 0);
    return [...out];
  }
}
