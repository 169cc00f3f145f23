import { callerPath, connected } from './data-dir';

describe('command-line tools: paths and databases', () => {
  const saved = process.env.INIT_CWD;
  afterEach(() => {
    if (saved === undefined) delete process.env.INIT_CWD;
    else process.env.INIT_CWD = saved;
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
});
