/**
 * Promises by key, each made once and shared by every caller while it is pending or has succeeded; a
 * failed one is forgotten, so that the next call makes it again, and so is a value `keep` refuses.
 */
export class Memo<T> {
  private readonly made = new Map<string, Promise<T>>();

  get(key: string, make: () => Promise<T>, keep: (value: T) => boolean = () => true): Promise<T> {
    const earlier = this.made.get(key);
    if (earlier) return earlier;
    const p = make();
    this.made.set(key, p);
    const forget = () => { if (this.made.get(key) === p) this.made.delete(key); };
    p.then((value) => { try { if (!keep(value)) forget(); } catch { forget(); } }, forget);
    return p;
  }
}
