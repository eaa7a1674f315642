/**
 * The CycloneDX 1.6 JSON schema check, as the CycloneDX library ships it. The library's own
 * JsonStrictValidator is used when its optional peers (ajv, ajv-formats, ajv-formats-draft2019) are all
 * installed; without ajv-formats-draft2019 the same schema files are compiled here with the same Ajv
 * options (the only format that package adds, idn-email, is checked as an e-mail address).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

export type BomCheck = (json: string) => Promise<unknown[] | null>;

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export async function cyclonedx16Validator(): Promise<{ check: BomCheck; by: string }> {
  const library = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  try {
    await library.validate('{}');
    return { check: async (json) => (await library.validate(json)) as unknown[] | null, by: 'Validation.JsonStrictValidator' };
  } catch (e) {
    if (!(e instanceof Validation.MissingOptionalDependencyError)) throw e;
  }
  return { check: await sameSchemaWithAjv(), by: 'the library schema files with ajv + ajv-formats' };
}

async function sameSchemaWithAjv(): Promise<BomCheck> {
  const schemaDir = join(dirname(createRequire(import.meta.url).resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const read = async (file: string) => JSON.parse(await readFile(join(schemaDir, file), 'utf8')) as object;
  const schemas = Object.fromEntries(
    await Promise.all(['spdx', 'cryptography-defs', 'jsf-0.82'].map(async (n) => [`http://cyclonedx.org/schema/${n}.SNAPSHOT.schema.json`, await read(`${n}.SNAPSHOT.schema.json`)])),
  ) as Record<string, object>;
  const ajv = new Ajv({ useDefaults: false, strict: false, strictSchema: false, addUsedSchema: false, schemas });
  addFormats(ajv);
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
  ajv.addFormat('iri-reference', true);
  const validate = ajv.compile(await read('bom-1.6.SNAPSHOT.schema.json'));
  return async (json) => (validate(JSON.parse(json)) ? null : (validate.errors ?? []));
}
