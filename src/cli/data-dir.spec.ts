import { releaseRequirement, requireOfEveryRelease } from '../../migrations/schema-requirements';
import { createTestDataSource } from '../../test/support/database';
import { callerPath, connected, databaseNamed, pendingMigrationsApplied } from './data-dir';

describe('command-line tools: paths and databases', () => {
  const saved = process.env.INIT_CWD;
  afterEach(() => {
    if (saved === undefined) delete process.env.INIT_CWD;
    else process.env.INIT_CWD = saved;
  });

  it('names the database a URL points at as pg reads it, a socket directory included, never its password', () => {
    expect(databaseNamed('postgres://owner:s3cret-pw@db.example:5433/haven')).toBe(
      'database haven at db.example:5433',
    );
    // Not a URL to WHATWG's parser (no host before the path); pg takes it, and so does DATABASE_URL.
    expect(databaseNamed('postgres://owner:s3cret-pw@/haven?host=/var/run/postgresql')).toBe(
      'database haven at /var/run/postgresql',
    );
    expect(databaseNamed('postgresql://owner@localhost/haven')).toBe('database haven at localhost');
  });

  it('a relative path is the caller’s (npm runs scripts from the package, and says where it was called in INIT_CWD)', () => {
    process.env.INIT_CWD = '/home/operator/exports';
    expect(callerPath('units.json')).toBe('/home/operator/exports/units.json');
    expect(callerPath('/srv/units.json')).toBe('/srv/units.json');
    delete process.env.INIT_CWD;
    expect(callerPath('units.json')).toBe(`${process.cwd()}/units.json`);
  });

  it('a data source that cannot connect stops the tool’s database before the error goes on', async () => {
    const stop = jest.fn(() => Promise.resolve());
    await expect(
      connected(
        { stop },
        { type: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none', connectTimeoutMS: 2_000 },
      ),
    ).rejects.toThrow();
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('a tool on a database ahead of its build: said on standard error, refused once a newer migration requires it', async () => {
    const { dataSource, drop } = await createTestDataSource();
    const said = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const runner = dataSource.createQueryRunner();
    const newer = 'SomethingNewer1799999999998';
    try {
      await dataSource.query(`INSERT INTO migrations ("timestamp", name) VALUES (1799999999998, $1)`, [
        newer,
      ]);
      await pendingMigrationsApplied(dataSource, false);
      expect(said).toHaveBeenCalledWith(
        expect.stringMatching(new RegExp(`ahead of this build: ${newer} applied`)),
      );
      await requireOfEveryRelease(runner, newer, 'its code is the only one that fills a column');
      await expect(pendingMigrationsApplied(dataSource, false)).rejects.toThrow(/which cannot run on it/);
      // HAVEN_ALLOW_NEWER_SCHEMA=1: it goes on, saying which is required.
      await pendingMigrationsApplied(dataSource, true);
      expect(said).toHaveBeenLastCalledWith(expect.stringMatching(new RegExp(`${newer} required`)));
    } finally {
      said.mockRestore();
      await releaseRequirement(runner, newer);
      await runner.release();
      await drop();
    }
  });
});
