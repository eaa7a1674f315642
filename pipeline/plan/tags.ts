/** Tag and name conventions: versioned `<gitTag>-eks-<ch>-<N>` (immutable) and floating `<gitTag>-eks-<ch>-latest`. */
export function versionedTag(gitTag: string, channel: string, number: number): string {
  return `${gitTag}-eks-${channel}-${number}`;
}

export function floatingTag(gitTag: string, channel: string): string {
  return `${gitTag}-eks-${channel}-latest`;
}

/** The floating tag that goes with a versioned tag of this channel and number; undefined when it is not one. */
export function floatingFor(versioned: string, channel: string, number: number): string | undefined {
  const suffix = `-eks-${channel}-${number}`;
  return versioned.endsWith(suffix) && versioned.length > suffix.length ? floatingTag(versioned.slice(0, -suffix.length), channel) : undefined;
}
