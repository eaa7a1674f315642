/**
 * Promises by key, each made once and shared by every caller while it is pending or has succeeded; a
 * failed one is forgotten, so that the next call makes it again.
 */
export class Memo<T> {
  private readonly made = new Map<string, Promise<T>>();

  get(key: string, make: () => Promise<T>): Promise<T> {
    const earlier = this.made.get(key);
    if (earlier) return earlier;
    const p = make();
    this.made.set(key, p);
    p.catch(() => { if (this.made.get(key) === p) this.made.delete(key); });
    return p;
  }
}
