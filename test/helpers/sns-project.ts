/** A mini-catalog project announcing through the SNS stand-in, both torn down with the test. */
import type { ExecutionContext } from 'ava';
import { FakeSns } from './fake-sns.ts';
import { makeProject, type TestProject } from './project.ts';

export const TOPIC = 'arn:aws:sns:us-east-1:000000000000:eks-distro-updates';

export async function snsProject(t: ExecutionContext, topics: string[] = [TOPIC]): Promise<{ sns: FakeSns; p: TestProject; env: Record<string, string> }> {
  const sns = new FakeSns(topics);
  const endpoint = await sns.start();
  t.teardown(() => sns.stop());
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const env = {
    EKSD_ANNOUNCE: 'sns', EKSD_SNS_ENDPOINT: endpoint, EKSD_SNS_TOPIC_ARN: TOPIC, AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
    AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  return { sns, p, env };
}
