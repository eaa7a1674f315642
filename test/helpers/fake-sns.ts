/**
 * An HTTP stand-in for Amazon SNS speaking the AWS Query protocol, enough for Publish: form-encoded
 * POST /, XML replies, NotFound for unknown topics, FIFO group/deduplication rules, JSON message
 * structure checks, and injectable failures: refusals (an SNS error answered before delivery) and
 * replies gone wrong after the message was delivered (truncated or garbled XML, a 200 without
 * MessageId, a 500, no answer at all, the connection dropped), as a real SNS can fail after accepting
 * a message. Listens on 127.0.0.1 only.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackStandIn } from './loopback-server.ts';

export interface FakePublish {
  TopicArn: string;
  Message: string;
  Subject?: string;
  MessageStructure?: string;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
  MessageAttributes: Record<string, { DataType: string; StringValue?: string }>;
  MessageId: string;
}

export interface InjectedFailure {
  status: number;
  code: string;
  message: string;
  type?: 'Sender' | 'Receiver';
  /** answer this body (e.g. a proxy's HTML page) instead of an SNS error document */
  body?: string;
}

/**
 * How the reply to a delivered Publish goes wrong: `truncated` (200, the XML cut off inside MessageId),
 * `garbled` (200, not XML), `no-message-id` (200, well-formed XML without MessageId), `server-error`
 * (500 InternalError), `hang` (never answered; the connection stays open), `drop` (the connection is
 * closed without a reply).
 */
export type ReplyFault = 'truncated' | 'garbled' | 'no-message-id' | 'server-error' | 'hang' | 'drop';

interface PendingFault { fault: ReplyFault; delivered?: (p: FakePublish) => void }

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export class FakeSns extends LoopbackStandIn {
  /** delivered publishes, in order */
  readonly publishes: FakePublish[] = [];
  /** FIFO publishes dropped as duplicates (same MessageDeduplicationId) */
  readonly duplicates: FakePublish[] = [];
  /** every request's Action, including failed ones */
  readonly actions: string[] = [];
  readonly topics = new Set<string>();
  /** Publish requests that reached the stand-in, whatever was answered (refused, delivered, or a reply gone wrong) */
  received = 0;
  private readonly failures: InjectedFailure[] = [];
  private readonly replyFaults: PendingFault[] = [];
  /** called with each delivered publish before it is answered (to check what was public at that moment) */
  onPublish: ((p: FakePublish) => void) | undefined;
  private readonly dedup = new Map<string, string>();

  constructor(topics: string[] = []) {
    super();
    for (const t of topics) this.topics.add(t);
  }

  /** Make the next requests fail, one per entry. */
  failNext(...failures: InjectedFailure[]): void {
    this.failures.push(...failures);
  }

  /**
   * The next Publish is delivered but never answered (as when the sender dies before the reply reaches
   * it). Resolves with the delivered message once it arrives.
   */
  holdNextReply(): Promise<FakePublish> {
    return new Promise((resolve) => this.replyFaults.push({ fault: 'hang', delivered: resolve }));
  }

  /** The next Publish is delivered, then its connection is closed before any reply (a lost reply). */
  dropNextReply(): void {
    this.replyFaults.push({ fault: 'drop' });
  }

  /** The next Publish requests are delivered, then answered wrongly, one fault per request. */
  faultNextReplies(...faults: ReplyFault[]): void {
    this.replyFaults.push(...faults.map((fault) => ({ fault })));
  }


  /** SNS client options pointing at this fake. */
  clientOptions(): { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } } {
    return { region: 'us-east-1', endpoint: this.endpoint, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const action = form.get('Action') ?? '';
    this.actions.push(action);
    if (action === 'Publish') this.received++;
    const requestId = randomUUID();
    const fail = (f: InjectedFailure): void => {
      if (f.body !== undefined) { res.writeHead(f.status, { 'content-type': 'text/html' }); res.end(f.body); return; }
      res.writeHead(f.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(`<ErrorResponse xmlns="${XMLNS}"><Error><Type>${f.type ?? 'Sender'}</Type><Code>${xml(f.code)}</Code><Message>${xml(f.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    };
    const injected = this.failures.shift();
    if (injected) return fail(injected);
    if (req.method !== 'POST' || action !== 'Publish') {
      return fail({ status: 400, code: 'InvalidAction', message: `The action ${action || '(none)'} is not valid for this endpoint.` });
    }
    const topic = form.get('TopicArn') ?? '';
    if (!this.topics.has(topic)) return fail({ status: 404, code: 'NotFound', message: 'Topic does not exist' });
    const message = form.get('Message');
    if (message === null || message === '') return fail({ status: 400, code: 'InvalidParameter', message: 'Invalid parameter: Empty message' });
    const structure = form.get('MessageStructure') ?? undefined;
    if (structure === 'json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(message);
      } catch {
        parsed = undefined;
      }
      if (!parsed || typeof (parsed as { default?: unknown }).default !== 'string') {
        return fail({ status: 400, code: 'InvalidParameter', message: 'Invalid parameter: Message Structure - No default entry in JSON message body' });
      }
    }
    const subject = form.get('Subject') ?? undefined;
    if (subject !== undefined && (subject.length > 100 || /[^\x20-\x7e]/.test(subject))) {
      return fail({ status: 400, code: 'InvalidParameter', message: 'Invalid parameter: Subject' });
    }
    const fifo = topic.endsWith('.fifo');
    const group = form.get('MessageGroupId') ?? undefined;
    const dedupId = form.get('MessageDeduplicationId') ?? undefined;
    if (fifo && !group) return fail({ status: 400, code: 'InvalidParameter', message: 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics' });
    if (fifo && !dedupId) return fail({ status: 400, code: 'InvalidParameter', message: 'Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly' });

    const attributes: FakePublish['MessageAttributes'] = {};
    for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
      const p = `MessageAttributes.entry.${n}`;
      const value = form.get(`${p}.Value.StringValue`);
      attributes[form.get(`${p}.Name`)!] = { DataType: form.get(`${p}.Value.DataType`) ?? '', ...(value !== null ? { StringValue: value } : {}) };
    }
    const record: FakePublish = {
      TopicArn: topic, Message: message, MessageAttributes: attributes, MessageId: randomUUID(),
      ...(subject !== undefined ? { Subject: subject } : {}),
      ...(structure !== undefined ? { MessageStructure: structure } : {}),
      ...(group !== undefined ? { MessageGroupId: group } : {}),
      ...(dedupId !== undefined ? { MessageDeduplicationId: dedupId } : {}),
    };
    const dedupKey = `${topic}\n${dedupId}`;
    if (fifo && this.dedup.has(dedupKey)) {
      record.MessageId = this.dedup.get(dedupKey)!;
      this.duplicates.push(record);
    } else {
      if (fifo) this.dedup.set(dedupKey, record.MessageId);
      this.publishes.push(record);
    }
    this.onPublish?.(record);
    const pending = this.replyFaults.shift();
    pending?.delivered?.(record);
    reply(req, res, requestId, record.MessageId, pending?.fault);
  }
}

/** The answer to a delivered Publish: SNS's, or one gone wrong as `fault` says. */
function reply(req: IncomingMessage, res: ServerResponse, requestId: string, messageId: string, fault: ReplyFault | undefined): void {
  const ok = `<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`;
  const xmlReply = (status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(body);
  };
  switch (fault) {
    case undefined: return xmlReply(200, ok);
    case 'truncated': return xmlReply(200, ok.slice(0, ok.indexOf(messageId) + 8));
    case 'garbled': return xmlReply(200, `\u0000${Buffer.from(ok).toString('base64')}`);
    case 'no-message-id': return xmlReply(200, ok.replace(/<MessageId>[^<]*<\/MessageId>/, ''));
    case 'server-error': return xmlReply(500, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Receiver</Type><Code>InternalError</Code><Message>An internal service error occurred.</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    case 'hang': return;
    case 'drop': req.socket.destroy(); return;
  }
}
