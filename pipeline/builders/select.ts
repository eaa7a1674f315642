/**
 * Which builder makes a platform image, and why: the first, in the order of preference, that accepts the
 * recipe and is not turned off. Its reason is its own when it is the first choice, else why the one
 * before it was passed over ("RUN at Dockerfile:4", "the assembler is off"). Pure.
 */
import { bug } from '../errors.ts';
import type { PathInputs } from '../image/keys.ts';
import type { Acceptance, Builder, RecipeView } from './port.ts';

/** One builder's answer for a recipe, in the order of preference. */
export type Answer = Acceptance & { builder: string; engine?: string };

export interface Choice { via: string; viaReason: string; key: PathInputs; engine?: string }

/** Every answer for the recipe from the builders that build its platform, in the order given. */
export function answers(builders: readonly Builder[], view: RecipeView): Answer[] {
  return builders.filter((b) => buildsPlatform(b, view.platform)).map((b) => ({ builder: b.name, ...(b.engine ? { engine: b.engine } : {}), ...b.accepts(view) }));
}

/** `off`: builders not to use, with why (a setting, or a refusal once the parent was seen). */
export function selectBuilder(answers: readonly Answer[], off: Readonly<Record<string, string>> = {}): Choice {
  let passedOver: string | undefined;
  for (const a of answers) {
    const skip = off[a.builder] ?? (a.accepts ? undefined : a.why);
    if (skip !== undefined) { passedOver = skip; continue; }
    return { via: a.builder, viaReason: passedOver ?? a.why, key: a.accepts ? a.key ?? {} : {}, ...(a.engine ? { engine: a.engine } : {}) };
  }
  return bug(`no builder makes this recipe (${answers.map((a) => `${a.builder}: ${off[a.builder] ?? a.why}`).join('; ') || 'no builder configured'})`);
}

export function buildsPlatform(builder: Builder, platform: string): boolean {
  return !builder.platforms || builder.platforms.some((p) => p === platform);
}
