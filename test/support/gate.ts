/** Gates not released yet: a failing test must not leave a request waiting (the app could not close). */
const unreleased: (() => void)[] = [];

/** Releases every gate a test left closed (its afterEach: a failed test must not leave a request waiting). */
export function releaseAllGates(): void {
  for (const release of unreleased.splice(0)) release();
}

/** A point where a request waits (`hit` once it is there) until the test lets it go on (`release`). */
export function gate() {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const hit = new Promise<void>((r) => (reached = r));
  unreleased.push(release);
  return { release, reached, released, hit };
}

/**
 * Holds the calls of `target[method]` (those `when` picks; every one by default) until the test releases the
 * gate: after they have returned (their locks still held, their result not used yet), or with `before`, before
 * they run. `hit` once one is there; once released, calls go through. `restore()` ends the spy.
 */
export function held<T extends object>(
  target: T,
  method: keyof T & string,
  opts: { before?: boolean; when?: (...args: any[]) => boolean } = {},
) {
  const g = gate();
  const host = target as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = host[method];
  const hold = async () => {
    g.reached();
    await g.released;
  };
  const spy = jest.spyOn(host, method).mockImplementation(async function (this: unknown, ...args: unknown[]) {
    const holding = opts.when?.(...args) ?? true;
    if (holding && opts.before) await hold();
    const result = await original.apply(this, args);
    if (holding && !opts.before) await hold();
    return result;
  });
  return { ...g, restore: () => spy.mockRestore() };
}
