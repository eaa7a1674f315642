/**
 * The base pin each channel was last released from, kept in the state store (`pins/<ch>.yaml`) so that
 * `eksd watch-base` on a fresh machine (CodeBuild, Actions) compares the upstream base with what was
 * really released, not with the pin committed in the repository. Recorded once a release is announced.
 */
import { readFile } from 'node:fs/promises';
import { getText, type Store } from '../store/store.ts';

export const pinKey = (channel: string): string => `pins/${channel}.yaml`;

export async function recordPin(state: Store, channel: string, basePin: string): Promise<void> {
  await state.put(pinKey(channel), await readFile(basePin));
}

/** The pin file text the channel was last released from; undefined before its first release. */
export function releasedPin(state: Store, channel: string): Promise<string | undefined> {
  return getText(state, pinKey(channel));
}
