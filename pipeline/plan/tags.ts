/** Tag and name conventions: versioned `<gitTag>-eks-<ch>-<N>` (immutable) and floating `<gitTag>-eks-<ch>-latest`. */
export function versionedTag(gitTag: string, channel: string, number: number): string {
  return `${gitTag}-eks-${channel}-${number}`;
}

export function floatingTag(gitTag: string, channel: string): string {
  return `${gitTag}-eks-${channel}-latest`;
}
