/** The target and build platforms, and the automatic args BuildKit sets from them (TARGETARCH, BUILDOS, ...). */
import type { TargetPlatform } from '../recipe.ts';

export function parsePlatform(platform: string): TargetPlatform {
  const [os, architecture, variant] = platform.split('/');
  if (!os || !architecture) throw new Error(`platform ${platform}: expected os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function automaticArgs(target: TargetPlatform, build: TargetPlatform): Map<string, string> {
  const name = (p: TargetPlatform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return new Map([
    ['TARGETPLATFORM', name(target)], ['TARGETOS', target.os], ['TARGETARCH', target.architecture], ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', name(build)], ['BUILDOS', build.os], ['BUILDARCH', build.architecture], ['BUILDVARIANT', build.variant ?? ''],
  ]);
}
