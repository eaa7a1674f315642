/**
 * The exact SNS Publish request for an announcement, shared by the SNS adapter (which sends it) and
 * the outbox (which writes it down). FIFO topics get MessageGroupId = channel and
 * MessageDeduplicationId = release name, with `-again-<n>` for a deliberate resend.
 */
import type { Announcement, MessageAttribute, PublishOptions } from './types.ts';

export interface PublishRequest {
  TopicArn?: string;
  Subject: string;
  Message: string;
  MessageStructure: 'json';
  MessageAttributes: Record<string, MessageAttribute>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

export function isFifoTopic(topicArn: string | undefined): boolean {
  return topicArn !== undefined && topicArn.endsWith('.fifo');
}

export function publishRequest(msg: Announcement, topicArn: string | undefined, options: PublishOptions = {}): PublishRequest {
  const resend = options.resend ?? 0;
  return {
    ...(topicArn ? { TopicArn: topicArn } : {}),
    Subject: msg.subject,
    Message: msg.message,
    MessageStructure: 'json',
    MessageAttributes: msg.attributes,
    ...(isFifoTopic(topicArn) ? {
      MessageGroupId: msg.channel,
      MessageDeduplicationId: resend > 0 ? `${msg.release}-again-${resend}` : msg.release,
    } : {}),
  };
}
