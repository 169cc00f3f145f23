import { PacedTask } from './paced-task';

describe('PacedTask', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A task that takes `ms` (fake time) and answers with its run's number; `fail` makes the next run throw. */
  function slowTask(ms: number) {
    const state = { runs: 0, fail: false };
    const task = async () => {
      const n = ++state.runs;
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (state.fail) {
        state.fail = false;
        throw new Error(`run ${n} failed`);
      }
      return n;
    };
    return { state, task };
  }

  it('lets callers that ask before a run begins share it', async () => {
    const { state, task } = slowTask(100);
    const paced = new PacedTask(task, () => 0, Date.now);
    const answers = Promise.all([paced.next(), paced.next(), paced.current()]);
    await jest.advanceTimersByTimeAsync(100);
    await expect(answers).resolves.toEqual([1, 1, 1]);
    expect(state.runs).toBe(1);
  });

  it('gives current() the run under way, and next() a run that begins after it', async () => {
    const { state, task } = slowTask(100);
    const paced = new PacedTask(task, () => 0, Date.now);
    const first = paced.next();
    await jest.advanceTimersByTimeAsync(50);
    expect(state.runs).toBe(1);
    const joined = paced.current();
    const after = paced.next();
    const alsoAfter = paced.next();
    await jest.advanceTimersByTimeAsync(50);
    await expect(first).resolves.toBe(1);
    await expect(joined).resolves.toBe(1);
    await jest.advanceTimersByTimeAsync(100);
    await expect(after).resolves.toBe(2);
    await expect(alsoAfter).resolves.toBe(2);
    expect(state.runs).toBe(2);
  });

  it('begins a run no sooner than the rest the previous run’s duration calls for', async () => {
    const { state, task } = slowTask(100);
    const paced = new PacedTask(task, (ms) => 2 * ms, Date.now);
    const first = paced.next();
    await jest.advanceTimersByTimeAsync(100);
    await expect(first).resolves.toBe(1);

    // A caller in a loop: asked again at once, it waits 200 ms (twice the 100 ms run) for the next run.
    expect(paced.restLeftMs()).toBe(200);
    const second = paced.next();
    expect(paced.restLeftMs()).toBe(0); // a run is due: a caller joins it
    await jest.advanceTimersByTimeAsync(199);
    expect(state.runs).toBe(1);
    const sharing = paced.current(); // nothing under way: the run that is due
    await jest.advanceTimersByTimeAsync(1);
    expect(state.runs).toBe(2);
    await jest.advanceTimersByTimeAsync(100);
    await expect(second).resolves.toBe(2);
    await expect(sharing).resolves.toBe(2);

    // Once the rest has passed, a run begins at once.
    await jest.advanceTimersByTimeAsync(200);
    const third = paced.next();
    await jest.advanceTimersByTimeAsync(0);
    expect(state.runs).toBe(3);
    await jest.advanceTimersByTimeAsync(100);
    await expect(third).resolves.toBe(3);
  });

  it('rests after a failed run too, and gives its failure to the callers that shared it only', async () => {
    const { state, task } = slowTask(100);
    const paced = new PacedTask(task, () => 50, Date.now);
    state.fail = true;
    const failed = paced.next();
    const sharedFailure = paced.next();
    const settled = Promise.allSettled([failed, sharedFailure]);
    await jest.advanceTimersByTimeAsync(100);
    expect((await settled).map((s) => s.status)).toEqual(['rejected', 'rejected']);

    const next = paced.next();
    await jest.advanceTimersByTimeAsync(49);
    expect(state.runs).toBe(1);
    await jest.advanceTimersByTimeAsync(101);
    await expect(next).resolves.toBe(2);
  });
});
