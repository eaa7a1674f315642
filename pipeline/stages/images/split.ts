/**
 * The images stage split across machines: a split job's plan is the release's plan for one platform
 * (each platform image's parent is the same platform's parent, so one platform's graph stands alone);
 * a merge decides over what the jobs recorded and must find every platform image there, building none.
 */
import type { Platform } from '../../config/config.ts';
import { EksdError } from '../../errors.ts';
import type { Plan } from '../../plan/plan.ts';
import type { ImageDecision } from './types.ts';

/** The plan with only `platform` left in each image that has it (images without it dropped). */
export function onlyPlatform(plan: Plan, platform: Platform): Plan {
  const images = plan.images.filter((i) => i.platforms.includes(platform)).map((i) => ({ ...i, platforms: [platform] }));
  return { ...plan, images };
}

/** A merge reuses every platform image the jobs recorded: a unit decided "build" is one no job made as planned. */
export function requireMerged(decisions: ImageDecision[], channel: string): void {
  const unmade = decisions.flatMap((d) => Object.entries(d.platforms).filter(([, p]) => p!.action === 'build')
    .map(([platform, p]) => `${channel} ${d.plan.name} ${platform} (the ${platform} job): ${p!.reason}`));
  if (unmade.length === 0) return;
  throw new EksdError('SPLIT_INCOMPLETE', `the merge would have to build ${unmade.length} platform image(s) no job recorded as planned; no index was written:\n  ${unmade.join('\n  ')}`, {
    where: `channel ${channel}`, hint: 'run the named platform jobs again from the same commit (same plan id), then the merge',
  });
}

/** A merge that finds, while carrying out, a unit it would have to build (its image stopped being served). */
export function unmadeUnit(image: string, platform: string, channel: string | undefined, why: string): EksdError {
  return new EksdError('SPLIT_INCOMPLETE', `the merge would have to build ${channel ?? ''} ${image} ${platform} (the ${platform} job): ${why}`, {
    where: `channel ${channel ?? ''}`, hint: 'run the named platform job again from the same commit (same plan id), then the merge',
  });
}
