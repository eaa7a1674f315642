/**
 * Announcer adapter for Amazon SNS (Publish with MessageStructure json and message attributes). Publish
 * is sent once, without SDK retries (a retry after a lost reply would be a second message), and given up
 * after a timeout. Only two outcomes are certain: SNS answered with a MessageId (sent), or SNS refused it
 * with a 4xx error it wrote itself (ANNOUNCE_FAILED: not sent), as is a failure before any byte left
 * (no credentials, connection refused, unknown host). Everything else — a timeout, a connection closed
 * before the answer, a 5xx, a 200 whose body cannot be read or has no MessageId, a 4xx that is not an SNS
 * error — is ANNOUNCE_UNCERTAIN, which the ledger treats as an interrupted send.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { createSnsClient, parseTopicArn, SNS_REQUEST_TIMEOUT_MS, type StaticCredentials } from '../aws/sns.ts';
import { EksdError } from '../errors.ts';
import { publishRequest } from './publish-input.ts';
import { REFUSED, UNCERTAIN, type Announcement, type Announcer, type PublishOptions } from './types.ts';

export interface SnsAnnouncerOptions {
  topicArn: string;
  /** default: the region in the topic ARN */
  region?: string;
  endpoint?: string;
  credentials?: StaticCredentials;
  /** ms to wait for SNS to answer before the outcome counts as unknown (default 30 000) */
  requestTimeoutMs?: number;
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

/** Failed before a byte was sent: the message certainly did not go out. */
const NOT_SENT = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CredentialsProviderError)$/;

interface SdkError { name?: string; Code?: string; code?: string; message?: string; $fault?: string; $metadata?: { httpStatusCode?: number } }

/** SNS itself said no: a 4xx whose body the SDK read as an SNS error (it has the error's Code). */
function refusedBySns(err: SdkError): boolean {
  const status = err.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && err.$fault === 'client' && typeof err.Code === 'string';
}

function notSent(err: SdkError): boolean {
  return err.$metadata?.httpStatusCode === undefined && (NOT_SENT.test(err.code ?? '') || NOT_SENT.test(err.name ?? ''));
}

function publishFailed(e: unknown, topicArn: string, release: string): EksdError {
  const err = e as SdkError;
  const status = err.$metadata?.httpStatusCode;
  const code = err.Code ?? (err.name && err.name !== 'Error' ? err.name : undefined) ?? err.code ?? 'Error';
  const certain = refusedBySns(err) || notSent(err);
  return new EksdError(certain ? REFUSED : UNCERTAIN,
    `SNS publish of ${release} to ${topicArn} failed: ${code}${status ? ` (HTTP ${status})` : ''}: ${firstLine(err.message ?? String(e))}`,
    { where: topicArn, hint: hintFor(code.replace(/Exception$/, ''), status), cause: e });
}

const firstLine = (s: string): string => s.split('\n')[0]!;

export class SnsAnnouncer implements Announcer {
  readonly topicArn: string;
  private readonly client: SNSClient;
  private readonly timeoutMs: number;

  constructor(options: SnsAnnouncerOptions) {
    const arn = parseTopicArn(options.topicArn);
    if (!arn) {
      throw new EksdError('ANNOUNCE_CONFIG', `"${options.topicArn}" is not an SNS topic ARN`, {
        where: 'snsTopicArn', hint: 'use arn:aws:sns:<region>:<account>:<topic> (FIFO topics end with .fifo)',
      });
    }
    if (!options.endpoint && options.region && options.region !== arn.region) {
      throw new EksdError('ANNOUNCE_CONFIG', `topic ${options.topicArn} is in ${arn.region}, but the SNS client is for ${options.region}`, {
        where: 'snsTopicArn', hint: 'leave the region unset to use the topic\'s region',
      });
    }
    this.topicArn = options.topicArn;
    this.timeoutMs = options.requestTimeoutMs ?? SNS_REQUEST_TIMEOUT_MS;
    this.client = createSnsClient({
      region: options.region ?? arn.region,
      requestTimeoutMs: this.timeoutMs,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  describe(): string {
    return `sns ${this.topicArn}`;
  }

  async publish(msg: Announcement, options: PublishOptions = {}): Promise<{ messageId: string }> {
    const request = publishRequest(msg, this.topicArn, options);
    let out;
    try {
      // A deadline for the whole exchange, beside the SDK's idle timeout: a reply that trickles in never ends the wait otherwise.
      out = await this.client.send(new PublishCommand({ ...request, TopicArn: this.topicArn }), { abortSignal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw publishFailed(e, this.topicArn, msg.release);
    }
    if (!out.MessageId) {
      throw new EksdError(UNCERTAIN, `SNS publish of ${msg.release} to ${this.topicArn} was answered (HTTP ${out.$metadata.httpStatusCode ?? '?'}) without a MessageId`, {
        where: this.topicArn, hint: 'SNS may have accepted the message; check what subscribers received (and the endpoint setting)',
      });
    }
    return { messageId: out.MessageId };
  }
}
