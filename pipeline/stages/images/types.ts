/** The data the build stage decides over and produces; what it produces is plain and serializable (the journal keeps it). */
import type { Platform } from '../../config/config.ts';
import type { ImagePlan } from '../../plan/plan.ts';
import type { BuildInputs, OwnInputs } from '../../image/keys.ts';
import type { Descriptor } from '../../image/media-types.ts';
import type { ContextFile } from '../../image/context.ts';
import type { RecipeView } from '../../builders/port.ts';
import type { Answer } from '../../builders/select.ts';

/** One platform image as this release has it: pushed by digest, with its build key and inputs. */
export interface PlatformRecord {
  key: string;
  inputs: BuildInputs;
  manifest: Descriptor;
  /** Built by this release (by this run or by the interrupted one); false when reused. */
  built: boolean;
  /** Why it was built, or reused. */
  reason: string;
  ms?: number;
}

export interface ImageRecord {
  platforms: Partial<Record<Platform, PlatformRecord>>;
  index?: Descriptor;
  /** The index as pushed, base64. */
  indexBytes?: string;
  /** Why this image differs from the last published one; absent when identical. */
  changed?: string;
}

/** The build stage's output, by image name; an interrupted run's partial one is handed back to the next run. */
export type BuildRecord = Record<string, ImageRecord>;

/** A platform image found in the registry behind a tag, with the key and inputs its index entry records. */
export interface TaggedPlatform { key: string; inputs?: BuildInputs; manifest: Descriptor }

/** What the registry says an image's tag holds: its index and platform entries. */
export interface TaggedBuild {
  indexDigest: string;
  created?: string;
  platforms: Partial<Record<Platform, TaggedPlatform>>;
}

/** What is known about an image before anything is built (gathered by facts.ts). */
export interface ImageFacts {
  plan: ImagePlan;
  /** Per platform, every input that is not a parent's digest. */
  own: Partial<Record<Platform, OwnInputs>>;
  /** Per platform, the build context's files (recipe and staged artifacts). */
  files: Partial<Record<Platform, ContextFile[]>>;
  /** Per platform, the recipe as builders read it. */
  views: Partial<Record<Platform, RecipeView>>;
  /** Per platform, every builder's answer for the recipe, in the order of preference (builders/select.ts). */
  answers: Partial<Record<Platform, Answer[]>>;
  /** The last published build (the floating tag). */
  published?: TaggedBuild;
  /** This release's versioned tag, set by an interrupted run of this very release. */
  tagged?: TaggedBuild;
  /** What an interrupted run of this release recorded. */
  done?: ImageRecord;
}

export type Decision =
  | { action: 'reuse'; source: 'run' | 'tagged' | 'published' | 'shared'; key: string; inputs: BuildInputs; manifest: Descriptor; built: boolean; reason: string }
  /** `key`/`inputs` are absent while a parent is to be rebuilt first (its digest is not known yet). */
  | { action: 'build'; key?: string; inputs?: BuildInputs; reason: string; waitsFor?: string[]; via: BuildPath; viaReason: string;
    /** Where it is built: the engine's address (none: the builder needs no engine). */
    engine?: string;
    /** Another channel of this run builds the same key first (a dry run); this channel then uses that build. */
    sharedWith?: string };

/** How a platform image is built: the name of the builder that makes it (builders/port.ts), e.g. 'assemble' or 'buildkit'. */
export type BuildPath = string;

/**
 * Build keys met in this run, across channels: which channel first had each, and the platform image once
 * it is pushed (or reused). A key is built once per run however many channels share it.
 */
export type SharedBuilds = Map<string, { channel: string; manifest?: Descriptor;
  /** Where (registry/repository) a channel of this run pushed the manifest or found it served (not only decided on). */
  servedIn?: string;
  /** A channel building the key now (channels run at once): the others wait for it instead of building it too. */
  building?: { channel: string; ended: Promise<void> } }>;

export interface ImageDecision { plan: ImagePlan; platforms: Partial<Record<Platform, Decision>> }
