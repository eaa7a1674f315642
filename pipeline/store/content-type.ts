/** The media type a site object is served with, from its key (S3 stores it with the object; `eksd site serve` sends it). */
const CONTENT_TYPES: [RegExp, string][] = [
  [/\.ya?ml$/, 'application/yaml'], [/\.json$/, 'application/json'], [/\.md$/, 'text/markdown; charset=utf-8'],
  [/(\.sha256|\.sha512|SHA256SUM|SHA512SUM)$/, 'text/plain; charset=utf-8'], [/\.txt$/, 'text/plain; charset=utf-8'],
  [/\.html$/, 'text/html; charset=utf-8'], [/\.css$/, 'text/css; charset=utf-8'], [/(^|\/)feed\.xml$/, 'application/atom+xml; charset=utf-8'],
  [/\.xml$/, 'application/xml'], [/\.svg$/, 'image/svg+xml'], [/\.png$/, 'image/png'],
];

export function contentType(key: string): string | undefined {
  return CONTENT_TYPES.find(([re]) => re.test(key))?.[1];
}
