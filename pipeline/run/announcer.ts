/** The Announcer the configuration asks for: SNS in production, the outbox directory locally. */
import type { Config } from '../config/config.ts';
import { OutboxAnnouncer } from '../announce/outbox.ts';
import { SnsAnnouncer } from '../announce/sns.ts';
import type { Announcer } from '../announce/types.ts';

export function announcerFor(config: Config): Announcer {
  const topicArn = config.announce.topicArn;
  if (config.announce.kind === 'sns' && topicArn) {
    return new SnsAnnouncer({ topicArn, ...(config.aws.snsEndpoint ? { endpoint: config.aws.snsEndpoint } : {}) });
  }
  return new OutboxAnnouncer(config.announce.dir!, topicArn ? { topicArn } : {});
}
