/**
 * Announcer adapter that writes the exact SNS Publish request to `<dir>/<release>.json`
 * (`<release>.<n>.json` for the n-th resend) instead of sending it: the embedded default without AWS.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { EksdError } from '../errors.ts';
import { writeFileAtomic } from '../util/fs-atomic.ts';
import { isAnnouncementName } from '../release/naming.ts';
import { publishRequest } from './publish-input.ts';
import type { Announcement, Announcer, PublishOptions } from './types.ts';

export interface OutboxOptions {
  /** recorded as TopicArn (and deciding FIFO ids) so the file is what SNS would receive */
  topicArn?: string;
}

export function outboxFileName(release: string, resend = 0): string {
  return resend > 0 ? `${release}.${resend}.json` : `${release}.json`;
}

export class OutboxAnnouncer implements Announcer {
  readonly dir: string;
  private readonly topicArn: string | undefined;

  constructor(dir: string, options: OutboxOptions = {}) {
    this.dir = resolve(dir);
    this.topicArn = options.topicArn;
  }

  describe(): string {
    return `outbox ${this.dir}`;
  }

  async publish(msg: Announcement, options: PublishOptions = {}): Promise<{ messageId: string }> {
    if (!isAnnouncementName(msg.release)) {
      throw new EksdError('ANNOUNCE_FAILED', `"${msg.release}" is not a release name`, {
        where: this.dir, hint: 'announcements are for releases named kubernetes-<ch>-eks-<N> (or a retirement, kubernetes-<ch>-retired)',
      });
    }
    const content = `${JSON.stringify(publishRequest(msg, this.topicArn, options), null, 2)}\n`;
    const path = join(this.dir, outboxFileName(msg.release, options.resend ?? 0));
    try {
      await writeFileAtomic(path, content);
    } catch (e) {
      throw new EksdError('ANNOUNCE_FAILED', `cannot write announcement ${path}: ${(e as Error).message}`, {
        where: path, hint: 'check that the outbox directory is writable', cause: e,
      });
    }
    return { messageId: `outbox-${createHash('sha256').update(content).digest('hex').slice(0, 16)}` };
  }
}
