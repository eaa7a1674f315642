/**
 * Which engines' images the assembler makes. BuildKit 0.8 is proven equal by the differential test; 0.9
 * to 0.12 write the same config, history and copies (their source). 0.13 and later write another config
 * (no OnBuild, COPY flags and ARG values in the history, other --chmod bits).
 */

/** BuildKit 0.x minors whose images the assembler makes. */
const ASSEMBLED_MINORS = [8, 12] as const;

/** Why the assembler does not make the images of this BuildKit ("0.13.1", "unknown"); undefined when it does. */
export function unassembledBuildKit(version: string): string | undefined {
  const [major = NaN, minor = NaN] = version.split('.').map((n) => Number.parseInt(n, 10));
  if (major === 0 && minor >= ASSEMBLED_MINORS[0] && minor <= ASSEMBLED_MINORS[1]) return undefined;
  return `the engine runs BuildKit ${version}, whose images the assembler does not make (it makes those of BuildKit 0.${ASSEMBLED_MINORS[0]} to 0.${ASSEMBLED_MINORS[1]})`;
}
