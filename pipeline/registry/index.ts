/** OCI distribution client: references, auth, manifests, blobs, tags, copy; retries and per-host limits. */
export { RegistryClient, type RegistryClientOptions, type PushBlobOptions, type PushedBlob } from './client.ts';
export { copy, emptyCopyStats, type CopyOptions, type CopyStats } from './copy.ts';
export { attach, artifactManifest, copyReferrers, referrers, referrersTag, type Artifact } from './referrers.ts';
export type { Manifest, ManifestHead } from './manifests.ts';
export { verifyManifestDigest, nextLink } from './manifests.ts';
export type { BlobSource } from './sources.ts';
export {
  parseReference, formatReference, describeRef, validateRepository, validateTag, validateDigest, validateRegistry,
  validateRef, isDigest, DEFAULT_REGISTRY, type ImageReference,
} from './reference.ts';
export {
  staticCredentials, dockerConfigCredentials, credentialsFromDockerConfig, defaultDockerConfigPath,
  type Credentials, type CredentialSource, type DockerConfig,
} from './credentials.ts';
export { isLoopback, parseChallenge, type Challenge } from './auth.ts';
export { RegistryError, type RequestContext } from './errors.ts';
export { parseErrorBody, parseErrorEntries, type RegistryBodyError } from './error-body.ts';
export { DEFAULT_HOST_BUDGET, HostBudget, type HostBudgetPolicy } from './host-budget.ts';
export { DEFAULT_RETRY, HostGate, backoffDelay, parseRetryAfter, type RetryPolicy } from './http.ts';
export { digestOf, matchesDigest, DigestAccumulator } from '../image/digest.ts';
export * from '../image/media-types.ts';
