/** The Announcer the configuration asks for: SNS in production, the outbox directory locally. */
import type { Config } from '../config/config.ts';
import { OutboxAnnouncer } from '../announce/outbox.ts';
import type { Announcer } from '../announce/types.ts';

/** The AWS SDK is loaded only for SNS. */
export async function announcerFor(config: Config): Promise<Announcer> {
  const topicArn = config.announce.topicArn;
  if (config.announce.kind === 'sns' && topicArn) {
    const { SnsAnnouncer } = await import('../announce/sns.ts');
    return new SnsAnnouncer({ topicArn, ...(config.aws.snsEndpoint ? { endpoint: config.aws.snsEndpoint } : {}) });
  }
  return new OutboxAnnouncer(config.announce.dir!, topicArn ? { topicArn } : {});
}
