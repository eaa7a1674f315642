/** The platforms a release builds. */
export type Platform = 'linux/amd64' | 'linux/arm64';
