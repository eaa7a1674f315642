/** A release channel's name: the Kubernetes major-minor with a dash, no leading zeros (1-33, not 01-33, 1-033, 1.33 or 1-). */
const CHANNEL = /^(?:0|[1-9][0-9]*)-(?:0|[1-9][0-9]*)$/;

export function isChannel(channel: string): boolean {
  return CHANNEL.test(channel);
}
