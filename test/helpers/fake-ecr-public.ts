/**
 * A fake ECR Public control plane (AWS JSON 1.1: POST / with x-amz-target SpencerFrontendService.<Op>)
 * for SDK clients pointed at it with `endpoint`. Supports GetAuthorizationToken (hands out the password
 * you choose), DescribeRepositories, CreateRepository and PutRepositoryCatalogData; records every call.
 *
 *   const ecr = await startFakeEcrPublic({ password: 'pw-123456' });
 *   new ECRPUBLICClient({ region: 'us-east-1', endpoint: ecr.endpoint, credentials: TEST_AWS_CREDENTIALS });
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export const TEST_AWS_CREDENTIALS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' };

export interface FakeRepository { repositoryName: string; catalogData?: Record<string, unknown>; createdAt: number }
export interface RecordedCall { operation: string; body: Record<string, unknown>; authorization?: string }

export interface FakeEcrPublic {
  endpoint: string;
  repositories: Map<string, FakeRepository>;
  calls: RecordedCall[];
  password: string;
  setPassword(password: string): void;
  /** Token lifetime handed out by GetAuthorizationToken (seconds from now). */
  setTokenLifetime(seconds: number): void;
  /** Makes the next call to `operation` fail with this AWS error type. */
  failNext(operation: string, errorType: string, status?: number, message?: string): void;
  stop(): Promise<void>;
}

const REGISTRY_ID = '123456789012';

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fake-request' };
  if (errorType) headers['x-amzn-errortype'] = errorType;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

function awsError(res: ServerResponse, type: string, message: string, status = 400): void {
  reply(res, status, { __type: type, message }, type);
}

function repoView(r: FakeRepository): object {
  return {
    repositoryArn: `arn:aws:ecr-public::${REGISTRY_ID}:repository/${r.repositoryName}`,
    registryId: REGISTRY_ID, repositoryName: r.repositoryName,
    repositoryUri: `public.ecr.aws/fake/${r.repositoryName}`, createdAt: r.createdAt,
  };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Starts the fake on a free loopback port. */
export async function startFakeEcrPublic(o: { password?: string; tokenLifetimeSeconds?: number } = {}): Promise<FakeEcrPublic> {
  const repositories = new Map<string, FakeRepository>();
  const calls: RecordedCall[] = [];
  const failures = new Map<string, { type: string; status: number; message: string }>();
  const state = { password: o.password ?? 'ecr-public-password-1', lifetime: o.tokenLifetimeSeconds ?? 12 * 3600 };

  const ops: Record<string, (body: Record<string, unknown>, res: ServerResponse) => void> = {
    GetAuthorizationToken: (_b, res) => reply(res, 200, { authorizationData: {
      authorizationToken: Buffer.from(`AWS:${state.password}`).toString('base64'),
      expiresAt: Math.floor(Date.now() / 1000) + state.lifetime,
    } }),
    DescribeRepositories: (b, res) => {
      const names = (b.repositoryNames as string[] | undefined) ?? [...repositories.keys()];
      const missing = names.find((n) => !repositories.has(n));
      if (missing) return awsError(res, 'RepositoryNotFoundException', `The repository with name '${missing}' does not exist in the registry with id '${REGISTRY_ID}'`);
      reply(res, 200, { repositories: names.map((n) => repoView(repositories.get(n)!)) });
    },
    CreateRepository: (b, res) => {
      const name = String(b.repositoryName);
      if (repositories.has(name)) return awsError(res, 'RepositoryAlreadyExistsException', `The repository with name '${name}' already exists`);
      const r: FakeRepository = { repositoryName: name, createdAt: Math.floor(Date.now() / 1000),
        ...(b.catalogData ? { catalogData: b.catalogData as Record<string, unknown> } : {}) };
      repositories.set(name, r);
      reply(res, 200, { repository: repoView(r), catalogData: r.catalogData ?? {} });
    },
    PutRepositoryCatalogData: (b, res) => {
      const r = repositories.get(String(b.repositoryName));
      if (!r) return awsError(res, 'RepositoryNotFoundException', `The repository with name '${String(b.repositoryName)}' does not exist`);
      r.catalogData = b.catalogData as Record<string, unknown>;
      reply(res, 200, { catalogData: r.catalogData });
    },
  };

  const server = createServer((req, res) => {
    void (async () => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^SpencerFrontendService\./, '');
      const body = await readJson(req);
      calls.push({ operation, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      const failure = failures.get(operation);
      if (failure) { failures.delete(operation); return awsError(res, failure.type, failure.message, failure.status); }
      const op = ops[operation];
      if (!op) return awsError(res, 'UnknownOperationException', `unknown operation ${operation}`);
      op(body, res);
    })().catch((e: unknown) => awsError(res, 'ServerException', String(e), 500));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    endpoint: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    repositories, calls,
    get password() { return state.password; },
    setPassword: (p) => { state.password = p; },
    setTokenLifetime: (s) => { state.lifetime = s; },
    failNext: (operation, type, status = 400, message = `injected ${type}`) => { failures.set(operation, { type, status, message }); },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
