/**
 * A failure that is nobody's mistake and passes (contention the service gave up waiting out): nothing was
 * written, and the client may try again. Answered 503 `service.unavailable` with `Retry-After` (ProblemFilter).
 */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}
