/**
 * ECR Public: client factory, the registry token as a CredentialSource, and "create the repository if
 * missing" with catalog data. The control-plane API lives only in us-east-1.
 */
import { awsClientConfig, type StaticCredentials } from './client-config.ts';
import {
  CreateRepositoryCommand, DescribeRepositoriesCommand, ECRPUBLICClient, GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr-public';
import { EksdError, registerSecret, type ErrorCode } from '../errors.ts';
import type { CredentialSource, Credentials } from '../registry/credentials.ts';
import { validateRepository } from '../registry/reference.ts';

export { ECR_PUBLIC_REGION, ECR_PUBLIC_REGISTRY } from './constants.ts';
import { ECR_PUBLIC_REGION, ECR_PUBLIC_REGISTRY } from './constants.ts';
/** Tokens are refreshed this long before they expire. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;

export type { StaticCredentials as AwsStaticCredentials } from './client-config.ts';

export interface EcrPublicClientOptions {
  /** e.g. http://127.0.0.1:PORT for a local fake; default: the AWS endpoint. */
  endpoint?: string;
  /** Default: the AWS default credential chain. */
  credentials?: StaticCredentials;
  /** SDK attempts for throttling, 5xx and network errors (default 3). */
  maxAttempts?: number;
}

/** An ECR Public SDK client in us-east-1. Static secrets are registered for redaction. */
export function createEcrPublicClient(o: EcrPublicClientOptions = {}): ECRPUBLICClient {
  return new ECRPUBLICClient({ ...awsClientConfig({ ...o, region: ECR_PUBLIC_REGION }), maxAttempts: o.maxAttempts ?? 3 });
}

const ERROR_CODES: Record<string, [ErrorCode, string]> = {
  RepositoryNotFoundException: ['ECR_REPOSITORY_NOT_FOUND', 'create the repository first (ensureRepository) or check its name'],
  RepositoryAlreadyExistsException: ['ECR_REPOSITORY_EXISTS', 'the repository exists already; describe it instead of creating it'],
  InvalidParameterException: ['ECR_INVALID_PARAMETER', 'check the repository name and catalog data (description <= 1024 chars, known architectures/OS)'],
  LimitExceededException: ['ECR_LIMIT_EXCEEDED', 'an ECR Public service quota was reached; request an increase or retry later'],
  TooManyTagsException: ['ECR_LIMIT_EXCEEDED', 'too many resource tags on the repository'],
  UnsupportedCommandException: ['ECR_UNSUPPORTED_COMMAND', 'ECR Public control-plane calls work only in us-east-1'],
  RegistryNotFoundException: ['ECR_REGISTRY_NOT_FOUND', 'the account has no ECR Public registry yet; create one in the console'],
  ServerException: ['ECR_SERVER_ERROR', 'ECR Public failed on its side; retry later'],
  ThrottlingException: ['ECR_THROTTLED', 'ECR Public is throttling; lower the request rate or retry later'],
  AccessDeniedException: ['ECR_ACCESS_DENIED', 'the AWS identity lacks the ecr-public permission for this call'],
  UnrecognizedClientException: ['ECR_CREDENTIALS_INVALID', 'the AWS credentials are not valid; check the access key'],
  InvalidSignatureException: ['ECR_CREDENTIALS_INVALID', 'the AWS secret key or clock is wrong'],
  ExpiredTokenException: ['ECR_CREDENTIALS_EXPIRED', 'the AWS session credentials expired; refresh them'],
  CredentialsProviderError: ['ECR_CREDENTIALS_MISSING', 'no AWS credentials found: set AWS_PROFILE, environment credentials or a role'],
};

/** An EksdError for an SDK failure, naming the operation and the repository. */
export function mapEcrError(e: unknown, operation: string, repositoryName?: string): EksdError {
  const name = e instanceof Error ? e.name : 'Error';
  const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const [code, hint]: [ErrorCode, string] = ERROR_CODES[name] ?? ['ECR_ERROR', 'see the message; retry if it looks transient'];
  const target = repositoryName ? `repository ${ECR_PUBLIC_REGISTRY}/${repositoryName}` : `registry ${ECR_PUBLIC_REGISTRY}`;
  const detail = e instanceof Error ? e.message : String(e);
  return new EksdError(code, `ECR Public ${operation} for ${target} failed: ${name}: ${detail}${status ? ` (HTTP ${status})` : ''}`, {
    where: repositoryName ? `${ECR_PUBLIC_REGISTRY}/${repositoryName}` : ECR_PUBLIC_REGISTRY, hint, cause: e,
  });
}

/** Decodes the base64 "AWS:<password>" authorization token. */
export function decodeAuthorizationToken(token: string): Credentials {
  registerSecret(token);
  const text = Buffer.from(token, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new EksdError('ECR_TOKEN_INVALID', 'ECR Public returned an authorization token that is not base64 of "user:password"', {
      where: ECR_PUBLIC_REGISTRY, hint: 'retry; if it persists, check the endpoint is ECR Public',
    });
  }
  const creds = { username: text.slice(0, colon), password: text.slice(colon + 1) };
  registerSecret(creds.password);
  return creds;
}

export interface EcrPublicTokenOptions extends EcrPublicClientOptions {
  client?: ECRPUBLICClient;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Registry credentials from ecr-public:GetAuthorizationToken (us-east-1): user "AWS" and the token's
 * password, cached until 5 minutes before it expires; `refresh` (after a 401) always fetches a new one.
 */
export function ecrPublicCredentials(o: EcrPublicTokenOptions = {}): CredentialSource {
  const client = o.client ?? createEcrPublicClient(o);
  const now = o.now ?? Date.now;
  let cached: { creds: Credentials; validUntil: number } | undefined;
  let pending: Promise<Credentials> | undefined;
  const fetchToken = async (): Promise<Credentials> => {
    let out;
    try {
      out = await client.send(new GetAuthorizationTokenCommand({}));
    } catch (e) {
      throw mapEcrError(e, 'GetAuthorizationToken');
    }
    const data = out.authorizationData;
    if (!data?.authorizationToken) throw mapEcrError(new Error('no authorizationData in the answer'), 'GetAuthorizationToken');
    const creds = decodeAuthorizationToken(data.authorizationToken);
    const expiresAt = data.expiresAt ? data.expiresAt.getTime() : now() + 60 * 60 * 1000;
    cached = { creds, validUntil: expiresAt - TOKEN_REFRESH_MARGIN_MS };
    return creds;
  };
  const fresh = (): Promise<Credentials> => (pending ??= fetchToken().finally(() => { pending = undefined; }));
  return {
    description: 'ECR Public authorization token (us-east-1)',
    get: async () => (cached && now() < cached.validUntil ? cached.creds : fresh()),
    refresh: () => { cached = undefined; return fresh(); },
  };
}

/** Catalog data shown in the ECR Public Gallery. */
export interface CatalogData {
  description: string;
  /** ECR Public names: "x86-64", "ARM 64", "x86", "ARM" (see ecrArchitectures). */
  architectures: string[];
  /** "Linux", "Windows". */
  operatingSystems: string[];
  aboutText?: string;
  usageText?: string;
}

const ARCHITECTURES: Record<string, string> = { amd64: 'x86-64', arm64: 'ARM 64', '386': 'x86', arm: 'ARM' };

/** OCI architecture names (amd64, arm64, ...) to ECR Public Gallery names; unknown names pass through. */
export function ecrArchitectures(arches: string[]): string[] {
  return arches.map((a) => ARCHITECTURES[a] ?? a);
}

/** Why the repository name or catalog data would be rejected, or undefined. */
export function validateCatalogData(repositoryName: string, c: CatalogData): string | undefined {
  const known = Object.values(ARCHITECTURES);
  const badArch = c.architectures.find((a) => !known.includes(a));
  const badOs = c.operatingSystems.find((x) => x !== 'Linux' && x !== 'Windows');
  if (repositoryName.length < 2 || repositoryName.length > 205) return `repository name "${repositoryName}" must have 2 to 205 characters`;
  return validateRepository(repositoryName)
    ?? (c.description.length > 1024 ? 'catalog description is longer than 1024 characters' : undefined)
    ?? (badArch !== undefined ? `architecture "${badArch}" is not one of ${known.join(', ')}` : undefined)
    ?? (badOs !== undefined ? `operating system "${badOs}" is not Linux or Windows` : undefined)
    ?? ((c.aboutText?.length ?? 0) > 25600 || (c.usageText?.length ?? 0) > 25600 ? 'aboutText/usageText is longer than 25600 characters' : undefined);
}

export interface EnsureRepositoryOptions extends EcrPublicClientOptions {
  client?: ECRPUBLICClient;
  repositoryName: string;
  catalogData: CatalogData;
}

export interface EnsuredRepository {
  created: boolean;
  repositoryUri?: string;
}

async function describe(client: ECRPUBLICClient, name: string): Promise<EnsuredRepository | undefined> {
  try {
    const out = await client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    const uri = out.repositories?.[0]?.repositoryUri;
    return { created: false, ...(uri ? { repositoryUri: uri } : {}) };
  } catch (e) {
    if ((e as Error).name === 'RepositoryNotFoundException') return undefined;
    throw mapEcrError(e, 'DescribeRepositories', name);
  }
}

/**
 * Makes sure the repository exists: creates it with the catalog data when missing; an existing
 * repository is left as it is (its catalog data is not overwritten).
 */
export async function ensureRepository(o: EnsureRepositoryOptions): Promise<EnsuredRepository> {
  const problem = validateCatalogData(o.repositoryName, o.catalogData);
  if (problem) {
    throw new EksdError('ECR_INVALID_PARAMETER', `cannot create ${ECR_PUBLIC_REGISTRY}/${o.repositoryName}: ${problem}`, {
      where: `${ECR_PUBLIC_REGISTRY}/${o.repositoryName}`, hint: 'fix the repository name or catalog data in the catalog',
    });
  }
  const client = o.client ?? createEcrPublicClient(o);
  const existing = await describe(client, o.repositoryName);
  if (existing) return existing;
  try {
    const out = await client.send(new CreateRepositoryCommand({ repositoryName: o.repositoryName, catalogData: o.catalogData }));
    const uri = out.repository?.repositoryUri;
    return { created: true, ...(uri ? { repositoryUri: uri } : {}) };
  } catch (e) {
    if ((e as Error).name === 'RepositoryAlreadyExistsException') return { created: false };
    throw mapEcrError(e, 'CreateRepository', o.repositoryName);
  }
}
