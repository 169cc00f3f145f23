/**
 * Sets this process's clock `behindMs` behind the real one, still running: an instance whose clock is off from
 * the database's. Only `Date` is faked; timers, ticks and `performance` stay real, so the app, its database
 * client and supertest work as ever. Undo with `jest.useRealTimers()`.
 */
export function clockBehind(behindMs: number): void {
  jest.useFakeTimers({
    now: Date.now() - behindMs,
    advanceTimers: true,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
}
