/**
 * SOURCE_DATE_EPOCH of the images this pipeline makes: every file mtime and `created` of an assembled
 * image, and the build arg BuildKit 0.13+ gets. The catalog records a component's commit but not its
 * commit time, so every image takes one fixed default (stages/images/facts.ts sets it per image, the one place to read a
 * commit time from once the catalog has it): the same inputs give the same bytes on any day.
 * Changing it changes the build keys of assembled images (keys.ts `epoch`), so they are rebuilt.
 */
/** 2024-01-01T00:00:00Z. */
export const DEFAULT_SOURCE_DATE_EPOCH = 1_704_067_200;
