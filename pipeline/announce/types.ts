import type { AttestedSubject } from '../release/attestations.ts';
/** The announcement of a release and the Announcer port that delivers it (SNS, or an outbox folder). */

export interface AnnouncedImage {
  /** asset name, e.g. kube-apiserver-image */
  name: string;
  uri: string;
  digest: string | null;
  /** why it differs from the previous release; null when unchanged */
  changed: string | null;
  /** Its signatures, SBOMs and provenance by digest (signing configured). */
  attestations?: { index: AttestedSubject; platforms: Record<string, AttestedSubject> };
}

export interface AnnouncedArchive {
  name: string;
  uri: string;
  os: string | null;
  arch: string[];
  sha256: string;
  sha512: string;
}

export interface AnnouncedComponent {
  name: string;
  gitTag: string;
  images: AnnouncedImage[];
  archives: AnnouncedArchive[];
}

/** The JSON body for machines (SQS/Lambda subscribers). */
/** What happened, for subscribers to filter on (the `event` message attribute). */
export type AnnouncementEvent = 'release' | 'new-channel' | 'republish' | 'retired';

export interface AnnouncementBody {
  event: AnnouncementEvent;
  release: string;
  channel: string;
  number: number;
  date: string;
  manifestUrl: string;
  republish: boolean;
  /** release compared against, null for the first release in the channel */
  previous: string | null;
  components: AnnouncedComponent[];
  summary: { images: number; changed: number; unchanged: number };
  /** images in the previous release that are gone, as <component>/<asset> */
  removed: string[];
}

/** A channel retired: it gets no more releases; its releases, images and tags stay. */
export interface RetirementBody {
  event: 'retired';
  channel: string;
  /** the channel's last release, null if it never had one */
  latestRelease: string | null;
  retired: string;
  channelUrl: string;
}

export interface MessageAttribute {
  DataType: 'String' | 'Number';
  StringValue: string;
}

export interface Announcement<B extends AnnouncementBody | RetirementBody = AnnouncementBody | RetirementBody> {
  release: string;
  channel: string;
  number: number;
  /** <= 100 printable ASCII characters (SNS limit) */
  subject: string;
  /** for people (e-mail) */
  text: string;
  json: B;
  /** SNS message for MessageStructure 'json': {"default": text, "email": text, "sqs": JSON body} */
  message: string;
  attributes: Record<'channel' | 'number' | 'release' | 'event', MessageAttribute>;
}

export interface PublishOptions {
  /** 0 for the announcement, n for the n-th deliberate resend */
  resend?: number;
}

export interface Announcer {
  /** e.g. `sns arn:aws:sns:...` or `outbox /path`; recorded in the ledger */
  describe(): string;
  /** Sends the message; throws REFUSED when it certainly did not go out, UNCERTAIN (or anything else) when it may have. */
  publish(msg: Announcement, options?: PublishOptions): Promise<{ messageId: string }>;
}

/**
 * The code an Announcer throws when the message certainly did not go out (the service refused it, or
 * nothing was sent): the ledger takes its entry back and a later run sends. Any other failure counts as
 * an interrupted send.
 */
export const REFUSED = 'ANNOUNCE_FAILED';

/** The code an Announcer throws when it cannot know whether the message was accepted (timeout, connection lost, unreadable reply). */
export const UNCERTAIN = 'ANNOUNCE_UNCERTAIN';
