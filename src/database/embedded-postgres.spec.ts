import { Client } from 'pg';
import { EmbeddedPostgres, serverEnvironment, SOCKET_PATH_MAX } from './embedded-postgres';

/** Where node-postgres would connect with `url` (its own parse, without connecting). */
function parse(url: string): Record<string, unknown> {
  const c = new Client({ connectionString: url }) as unknown as Record<string, unknown>;
  return { host: c.host, port: c.port, user: c.user, password: c.password, database: c.database };
}

describe('EmbeddedPostgres connection URL', () => {
  const server = (socketDir?: string) =>
    new EmbeddedPostgres({
      clusterDir: '/srv/haven/postgres',
      port: 55432,
      password: 'p@ss/word',
      socketDir,
    });

  it('goes through the socket directory when there is one', () => {
    const url = server('/srv/haven/run').url('haven');
    expect(parse(url)).toMatchObject({
      host: '/srv/haven/run',
      port: 55432,
      user: 'postgres',
      password: 'p@ss/word',
      database: 'haven',
    });
  });

  it('keeps the socket through a change of user, as the runtime role is derived from the owner URL', () => {
    const url = new URL(server('/srv/haven/run').url('haven'));
    url.username = 'haven_app_login';
    url.password = 'other';
    expect(parse(url.toString())).toMatchObject({ host: '/srv/haven/run', user: 'haven_app_login' });
  });

  it('falls back to TCP on the loopback when the socket path would not fit or needs quoting', () => {
    const tooLong = `/${'d'.repeat(SOCKET_PATH_MAX)}`;
    for (const dir of [undefined, tooLong, '/srv/haven data/run', '/srv/a,b', 'relative/run']) {
      const s = server(dir);
      expect(s.socketDir()).toBeUndefined();
      expect(parse(s.url('haven'))).toMatchObject({ host: '127.0.0.1', port: 55432, database: 'haven' });
    }
    // The longest that fits: the directory, a slash and `.s.PGSQL.55432` (14 bytes).
    const longest = `/${'d'.repeat(SOCKET_PATH_MAX - 1 - 1 - 14)}`;
    expect(server(longest).socketDir()).toBe(longest);
    expect(server(`${longest}d`).socketDir()).toBeUndefined();
  });
});

describe("the embedded server's environment", () => {
  it("keeps what initdb and the server need, and none of the service's secrets", () => {
    const env = serverEnvironment({
      PATH: '/usr/bin',
      TZ: 'Asia/Ho_Chi_Minh',
      LANG: 'C.UTF-8',
      LC_ALL: 'vi_VN.UTF-8',
      LC_CTYPE: 'C.UTF-8',
      TMPDIR: '/tmp',
      HOME: '/root',
      LD_PRELOAD: 'libnss_wrapper.so',
      NSS_WRAPPER_PASSWD: '/tmp/passwd',
      NSS_WRAPPER_GROUP: '/tmp/group',
      PG_OOM_ADJUST_FILE: '/proc/self/oom_score_adj',
      HAVEN_MASTER_KEY: 'secret',
      HAVEN_MASTER_KEY_FILE: '/etc/haven/keyring.json',
      DATABASE_URL: 'postgres://u:p@h/db',
      PGPASSWORD: 'p',
      AWS_SECRET_ACCESS_KEY: 'x',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      TZ: 'Asia/Ho_Chi_Minh',
      LANG: 'C.UTF-8',
      LC_CTYPE: 'C.UTF-8',
      TMPDIR: '/tmp',
      LD_PRELOAD: 'libnss_wrapper.so',
      NSS_WRAPPER_PASSWD: '/tmp/passwd',
      NSS_WRAPPER_GROUP: '/tmp/group',
      PG_OOM_ADJUST_FILE: '/proc/self/oom_score_adj',
      LC_MESSAGES: 'C',
    });
  });
});
