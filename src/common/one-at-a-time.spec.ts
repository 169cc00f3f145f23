import { OneAtATime } from './one-at-a-time';

describe('OneAtATime', () => {
  /** A promise and the function that settles it. */
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
  };

  it('runs the work of one key one at a time, in the order asked; other keys do not wait', async () => {
    const queue = new OneAtATime();
    const log: string[] = [];
    const first = gate();
    const a1 = queue.run('a', async () => {
      log.push('a1 start');
      await first.opened;
      log.push('a1 end');
      return 1;
    });
    const a2 = queue.run('a', () => {
      log.push('a2 start');
      return Promise.resolve(2);
    });
    const b = queue.run('b', () => {
      log.push('b');
      return Promise.resolve(3);
    });
    expect(await b).toBe(3);
    expect(log).toEqual(['a1 start', 'b']);
    first.open();
    expect(await Promise.all([a1, a2])).toEqual([1, 2]);
    expect(log).toEqual(['a1 start', 'b', 'a1 end', 'a2 start']);
    expect(queue.size).toBe(0);
  });

  it('a failed work lets the next of its key run, and the failure reaches only its own caller', async () => {
    const queue = new OneAtATime();
    const failed = queue.run('a', () => Promise.reject(new Error('the statement failed')));
    const next = queue.run('a', () => Promise.resolve('ran'));
    await expect(failed).rejects.toThrow('the statement failed');
    expect(await next).toBe('ran');
    expect(queue.size).toBe(0);
  });
});
