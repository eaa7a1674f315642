/**
 * The image as a value: what a builder makes and publish/ pushes. The exact config bytes and, per layer,
 * a descriptor (a new layer also names the local file holding its compressed bytes; a layer inherited from
 * the parent has none: the registry has it). Whichever builder made it, an Image is pushed alike.
 */
import type { Descriptor } from './media-types.ts';

export interface Layer extends Descriptor { /** Local file to upload, absent for layers inherited from the parent. */ path?: string }

export interface Image {
  config: Buffer;
  configDigest: string;
  layers: Layer[];
  /** How many leading layers come from the parent unchanged. */
  inherited: number;
}

/** The config's `created` (RFC 3339), or '' when it has none. */
export function createdOf(image: Image): string {
  return (JSON.parse(image.config.toString('utf8')) as { created?: string }).created ?? '';
}

/** The config's layer diff ids, in order. */
export function diffIdsOf(config: Buffer): string[] {
  return (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
}
