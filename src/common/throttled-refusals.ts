import { DomainError } from './errors/domain-error';
import { LocalizedText } from './errors/error-catalog';
import { LoggedMarks } from './logged-marks';

/**
 * A user's requests refused for a while (429 `auth.throttled`, with `Retry-After`): a search over its limit, a
 * step-up while another runs, a whole verification in its rest. Each refusal goes to the access log once per
 * user and wait in this process: a flood's repeats are answered without an entry each (each would stay for
 * good).
 */
export class ThrottledRefusals {
  private readonly logged = new LoggedMarks();

  /**
   * Throws the refusal of `userId` for `waitMs` (Retry-After: the wait in whole seconds, at least 1), after
   * writing it with `record` unless this user's refusal is on the log already for a wait not yet over. The next
   * refusal is written once `waitMs` (or `quietMs`, when longer: a wait that may be near zero) has passed.
   * `detail`: the answer's text, given the seconds.
   */
  async refuse(
    userId: string,
    waitMs: number,
    record: (refusal: DomainError) => Promise<unknown>,
    { detail, quietMs = 0 }: { detail?: (seconds: number) => LocalizedText; quietMs?: number } = {},
  ): Promise<never> {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    const refusal = new DomainError('auth.throttled', detail?.(seconds), undefined, seconds);
    await this.logged.once([{ key: userId, until: Date.now() + Math.max(waitMs, quietMs) }], () =>
      record(refusal),
    );
    throw refusal;
  }
}
