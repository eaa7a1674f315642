/**
 * What every AWS SDK client of eksd is made with: the region, another endpoint when given (a local
 * stand-in), static credentials when given (else the default chain; their secrets are registered for
 * redaction), and a request timeout that fails the request (the SDK only warns unless told to throw).
 */
import { registerSecret } from '../errors.ts';

export interface StaticCredentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

export interface AwsClientOptions {
  region: string;
  endpoint?: string;
  credentials?: StaticCredentials;
  /** ms without an answer before a request counts as lost; unset: the SDK's default. */
  requestTimeoutMs?: number;
}

export function awsClientConfig(o: AwsClientOptions) {
  if (o.credentials) {
    registerSecret(o.credentials.secretAccessKey);
    registerSecret(o.credentials.sessionToken);
  }
  return {
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.requestTimeoutMs !== undefined ? { requestHandler: { requestTimeout: o.requestTimeoutMs, throwOnRequestTimeout: true, connectionTimeout: 5_000 } } : {}),
  };
}
