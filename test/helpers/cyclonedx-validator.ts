/** The CycloneDX 1.6 JSON schema check the CycloneDX library ships (its strict validator, over ajv). */
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

export type BomCheck = (json: string) => Promise<unknown[] | null>;

export async function cyclonedx16Validator(): Promise<{ check: BomCheck; by: string }> {
  const library = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  return { check: async (json) => (await library.validate(json)) as unknown[] | null, by: 'Validation.JsonStrictValidator' };
}
