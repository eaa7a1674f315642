/**
 * Announcer adapter for Amazon SNS (Publish with MessageStructure json and message attributes). Publish
 * is sent once, without SDK retries: a retry after a lost reply would be a second message. A failure
 * after the request may have reached SNS (a timeout, a connection closed before the answer, a 5xx) is
 * reported as ANNOUNCE_UNCERTAIN, which the ledger treats as an interrupted send.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { createSnsClient, parseTopicArn, type StaticCredentials } from '../aws/sns.ts';
import { EksdError } from '../errors.ts';
import { publishRequest } from './publish-input.ts';
import { UNCERTAIN, type Announcement, type Announcer, type PublishOptions } from './types.ts';

export interface SnsAnnouncerOptions {
  topicArn: string;
  /** default: the region in the topic ARN */
  region?: string;
  endpoint?: string;
  credentials?: StaticCredentials;
  maxAttempts?: number;
  /** a ready client (tests, shared clients); region/endpoint/credentials are then ignored */
  client?: SNSClient;
}

const HINTS: [RegExp, string][] = [
  [/^NotFound/, 'the topic does not exist in this account/region: check the topic ARN (and that the client region matches the ARN)'],
  [/^(AuthorizationError|AccessDenied|InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClient|ExpiredToken|InvalidAccessKeyId|MissingAuthenticationToken)/,
    'the credentials are missing, expired or lack sns:Publish on this topic; check the role/profile and the topic policy'],
  [/^(KMS|KMSAccessDenied|KMSDisabled|KMSInvalidState|KMSNotFound|KMSOptInRequired|KMSThrottling)/, 'the topic is encrypted with a KMS key the caller cannot use; grant kms:GenerateDataKey and kms:Decrypt'],
  [/^(InvalidParameter|InvalidParameterValue|ValidationError)/, 'SNS rejected the message (subject, attributes or FIFO ids); check the announcement and the topic type'],
  [/^(Throttled|Throttling|InternalError|InternalFailure|ServiceUnavailable)/, 'SNS is throttling or unavailable; run the announce step again later (it is sent once per release)'],
];

function hintFor(code: string, status: number | undefined): string {
  for (const [re, hint] of HINTS) if (re.test(code)) return hint;
  if (status === undefined) return 'SNS could not be reached; check the endpoint, network and proxy settings, then run the announce step again';
  return 'check the topic ARN, region and credentials, then run the announce step again';
}

/** Refused before a byte was sent: the message certainly did not go out. */
const NOT_SENT = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CredentialsProviderError)$/;

function publishFailed(e: unknown, topicArn: string, release: string): EksdError {
  const err = e as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const code = err.Code ?? (err.name && err.name !== 'Error' ? err.name : undefined) ?? err.code ?? 'Error';
  const certain = status !== undefined ? status < 500 : NOT_SENT.test(err.code ?? '') || NOT_SENT.test(code);
  return new EksdError(certain ? 'ANNOUNCE_FAILED' : UNCERTAIN,
    `SNS publish of ${release} to ${topicArn} failed: ${code}${status ? ` (HTTP ${status})` : ''}: ${err.message ?? String(e)}`,
    { where: topicArn, hint: hintFor(code.replace(/Exception$/, ''), status), cause: e });
}

export class SnsAnnouncer implements Announcer {
  readonly topicArn: string;
  private readonly client: SNSClient;

  constructor(options: SnsAnnouncerOptions) {
    const arn = parseTopicArn(options.topicArn);
    if (!arn) {
      throw new EksdError('ANNOUNCE_CONFIG', `"${options.topicArn}" is not an SNS topic ARN`, {
        where: 'snsTopicArn', hint: 'use arn:aws:sns:<region>:<account>:<topic> (FIFO topics end with .fifo)',
      });
    }
    if (!options.client && !options.endpoint && options.region && options.region !== arn.region) {
      throw new EksdError('ANNOUNCE_CONFIG', `topic ${options.topicArn} is in ${arn.region}, but the SNS client is for ${options.region}`, {
        where: 'snsTopicArn', hint: 'leave the region unset to use the topic\'s region',
      });
    }
    this.topicArn = options.topicArn;
    this.client = options.client ?? createSnsClient({
      region: options.region ?? arn.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    });
  }

  describe(): string {
    return `sns ${this.topicArn}`;
  }

  async publish(msg: Announcement, options: PublishOptions = {}): Promise<{ messageId: string }> {
    const request = publishRequest(msg, this.topicArn, options);
    let out;
    try {
      out = await this.client.send(new PublishCommand({ ...request, TopicArn: this.topicArn }));
    } catch (e) {
      throw publishFailed(e, this.topicArn, msg.release);
    }
    if (!out.MessageId) {
      throw new EksdError('ANNOUNCE_FAILED', `SNS publish of ${msg.release} to ${this.topicArn} returned no MessageId`, {
        where: this.topicArn, hint: 'the endpoint did not answer like SNS; check the endpoint setting',
      });
    }
    return { messageId: out.MessageId };
  }
}
