/**
 * SNS client factory and topic ARN parsing. Credentials come from the default AWS chain unless given
 * (tests pass static ones together with a local `endpoint`); secrets are registered for redaction.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { awsClientConfig, type StaticCredentials } from './client-config.ts';

export type { StaticCredentials } from './client-config.ts';

export interface SnsClientOptions {
  region: string;
  /** e.g. http://127.0.0.1:4575 for a local SNS; default: the AWS endpoint of region */
  endpoint?: string;
  credentials?: StaticCredentials;
  /** ms without an answer before a request counts as lost (default 30 000) */
  requestTimeoutMs?: number;
}

/** Default time to wait for SNS to answer a Publish. */
export const SNS_REQUEST_TIMEOUT_MS = 30_000;

/**
 * A client that sends each request once (maxAttempts 1: a Publish retried after a lost reply would be a
 * second message) and gives up on a request without an answer after `requestTimeoutMs` (the SDK only
 * warns unless told to throw).
 */
export function createSnsClient(options: SnsClientOptions): SNSClient {
  return new SNSClient({ ...awsClientConfig({ ...options, requestTimeoutMs: options.requestTimeoutMs ?? SNS_REQUEST_TIMEOUT_MS }), maxAttempts: 1 });
}

export interface TopicArn {
  partition: string;
  region: string;
  account: string;
  name: string;
  /** FIFO topics need MessageGroupId and take MessageDeduplicationId */
  fifo: boolean;
}

/** `arn:aws:sns:us-east-1:123456789012:eks-distro-updates[.fifo]`; undefined when malformed. */
export function parseTopicArn(arn: string): TopicArn | undefined {
  const m = /^arn:(aws[a-z-]*):sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, region: m[2]!, account: m[3]!, name: m[4]!, fifo: m[5] !== undefined };
}
