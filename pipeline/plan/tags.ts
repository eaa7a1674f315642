/** Tag and name conventions (DESIGN.md section 5). */
export function versionedTag(gitTag: string, channel: string, number: number): string {
  return `${gitTag}-eks-${channel}-${number}`;
}

export function floatingTag(gitTag: string, channel: string): string {
  return `${gitTag}-eks-${channel}-latest`;
}
