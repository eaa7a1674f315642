/** Checksum files use the coreutils format `<hex>  <path>\n` so `sha256sum -c` reads them. */
export function sumLine(hex: string, name: string): string {
  return `${hex}  ${name}\n`;
}
