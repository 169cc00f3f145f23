import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable, isTransientRefusal, isUniqueViolation } from './pg-errors';

/** An error as pg raises it: a message and a SQLSTATE (or a Node socket code). */
function driverError(code: string, message = 'refused'): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

describe('database error classification', () => {
  it('finds a passing refusal as pg raises it, as TypeORM wraps it, and as a cause', () => {
    const deadlock = driverError('40P01');
    expect(isTransientRefusal(deadlock)).toBe(true);
    expect(isTransientRefusal(new QueryFailedError('SELECT 1', [], deadlock))).toBe(true);
    expect(isTransientRefusal(new Error('the work failed', { cause: driverError('40001') }))).toBe(true);
    expect(
      isTransientRefusal(new Error('outer', { cause: new QueryFailedError('x', [], driverError('55P03')) })),
    ).toBe(true);
  });

  it('does not take a mistake or a bug for a passing refusal', () => {
    for (const code of ['23505', '23514', '42P01', 'HKF01', 'ECONNREFUSED']) {
      expect(isTransientRefusal(new QueryFailedError('x', [], driverError(code)))).toBe(false);
    }
    expect(isTransientRefusal(new Error('no code'))).toBe(false);
    expect(isTransientRefusal(undefined)).toBe(false);
    expect(isTransientRefusal('40P01')).toBe(false);
  });

  it('finds a database that cannot be reached by its code or by pg’s message, through the same chain', () => {
    expect(isDatabaseUnavailable(driverError('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(new QueryFailedError('x', [], driverError('57P01')))).toBe(true);
    expect(
      isDatabaseUnavailable(
        new Error('sign-in failed', { cause: new Error('Connection terminated unexpectedly') }),
      ),
    ).toBe(true);
    expect(isDatabaseUnavailable(new QueryFailedError('x', [], driverError('40P01')))).toBe(false);
    expect(isDatabaseUnavailable(new Error('bug'))).toBe(false);
  });

  it('stops four errors deep, so a cycle of causes cannot hang it', () => {
    const cyclic = new Error('a') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    expect(isTransientRefusal(cyclic)).toBe(false);
    expect(isDatabaseUnavailable(cyclic)).toBe(false);
    let deep: Error = driverError('40P01');
    for (let i = 0; i < 4; i++) deep = new Error(`wrap ${i}`, { cause: deep });
    expect(isTransientRefusal(deep)).toBe(false);
  });

  it('names a unique violation, and its constraint when asked', () => {
    const taken = Object.assign(driverError('23505'), { constraint: 'users_username_key' });
    expect(isUniqueViolation(new QueryFailedError('x', [], taken))).toBe(true);
    expect(isUniqueViolation(new QueryFailedError('x', [], taken), 'users_username_key')).toBe(true);
    expect(isUniqueViolation(new QueryFailedError('x', [], taken), 'other')).toBe(false);
    expect(isUniqueViolation(driverError('40P01'))).toBe(false);
  });
});
