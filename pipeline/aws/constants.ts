/** ECR Public names, in a module light enough to import without the AWS SDK. */
export const ECR_PUBLIC_REGION = 'us-east-1';
export const ECR_PUBLIC_REGISTRY = 'public.ecr.aws';
