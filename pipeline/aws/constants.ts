/** ECR Public names, in a module light enough to import without the AWS SDK. */
export const ECR_PUBLIC_REGION = 'us-east-1';
export const ECR_PUBLIC_REGISTRY = 'public.ecr.aws';

/** The one registry host that is ECR Public for a configuration (another only where a stand-in takes its place). */
export function ecrPublicHost(aws: { ecrPublicRegistry?: string }): string {
  return aws.ecrPublicRegistry || ECR_PUBLIC_REGISTRY;
}
