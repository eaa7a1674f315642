import { loadConfig, type Config } from '../config/config.ts';
import type { CommandContext } from './command.ts';

/** Loads configuration with this command's flags as the highest-precedence source. */
export function configFrom(ctx: CommandContext, extra: Record<string, string | undefined> = {}): Config {
  const v = ctx.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return loadConfig({
    ...(str('profile') ? { profile: str('profile')! } : {}),
    ...(str('config') ? { configFile: str('config')! } : {}),
    overrides: { channel: str('channel'), imageRepo: str('image-repo'), 'site.dir': str('site-dir'), ...extra },
  });
}
