import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';

/**
 * What `work` answers and the SQL texts the app sent through TypeORM's query runner while it ran, in order
 * (their parameters aside): for tests of what a request asks of the database, not only what it answers.
 */
export async function statementsDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; statements: string[] }> {
  const sent = jest.spyOn(PostgresQueryRunner.prototype, 'query');
  try {
    const result = await work();
    return { result, statements: sent.mock.calls.map(([sql]) => sql) };
  } finally {
    sent.mockRestore();
  }
}
