/** The catalog files as written (after their schema check), before they become specs. */
import type { Platform } from '../config/config.ts';
import type { YamlSource } from '../util/yaml-source.ts';
import type { ArtifactSpec, ImageSpec } from './model.ts';

export interface RawArtifact { name: string; platform: Platform; os?: ArtifactSpec['os']; sha256: string; sha512: string; description: string; release?: boolean; stage?: string; contains?: string[] }
export interface RawImage { name: string; repository: string; description: string; from: string; builder?: string; dockerfile?: string; platforms?: Platform[]; stages?: string[]; buildArgs?: Record<string, string>; release?: boolean; extraTags?: string[] }
/** One version of a component and the channels that ship it. */
export interface RawVersion { channels: string[]; gitTag: string; gitCommit?: string; artifacts?: RawArtifact[]; extraTags?: Record<string, string[]> }
export interface RawComponent { name: string; project: string; channels?: string[]; versions: RawVersion[]; images?: RawImage[] }
export interface RawBases { gitTag: string; bases: Array<Omit<RawImage, 'stages' | 'buildArgs' | 'release' | 'extraTags'>> }

/** An image with the file and field path it was written at, for messages. */
export interface Located { spec: ImageSpec; source: YamlSource; path: (string | number)[] }
