import { Writable } from 'node:stream';
import { censorSensitive, createLogger, PinoNestLogger, serializeError } from './logger';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger redaction', () => {
  it('censors sensitive keys at the top level and nested, and keeps the rest', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    logger.info(
      {
        caseId: 'c-1',
        fullName: 'MARK-Nguyễn',
        survivor: { phone: 'MARK-0912' },
        req: { headers: { authorization: 'Bearer MARK-token', 'user-agent': 'jest' } },
        nested: { deeper: { password: 'MARK-pw' } },
      },
      'event',
    );
    const text = lines.join('');
    expect(text).not.toContain('MARK-');
    const entry = JSON.parse(text) as Record<string, unknown>;
    expect(entry).toMatchObject({
      caseId: 'c-1',
      fullName: '[redacted]',
      survivor: '[redacted]',
      msg: 'event',
    });
    expect(entry.req).toEqual({ headers: { authorization: '[redacted]', 'user-agent': 'jest' } });
  });

  it('censors keys by their form too: encrypted columns, blind indexes, notes, secrets, passwords and hashes under longer names', () => {
    const logged = {
      view: { reviewNote: 'MARK-note', otpauthUrl: 'otpauth://totp/x?secret=MARK' },
      row: {
        enc_identity: 'MARK-enc',
        bi_phone: 'MARK-bi',
        totp_secret: 'MARK-secret',
        password_hash: 'MARK-hash',
        passwordHash: 'MARK-hash',
        id: 'c-1',
      },
      perpetrator_fields: {
        relationship: 'MARK-parent',
        accessToWeapons: true,
        pregnant: false,
        ageYears: 12,
      },
      noted: 'kept',
      hashed: 'kept',
    };
    const censored = JSON.stringify(censorSensitive(logged));
    expect(censored).not.toContain('MARK');
    expect(censored).not.toMatch(/true|false|12/);
    expect(censorSensitive(logged)).toMatchObject({ row: { id: 'c-1' }, noted: 'kept', hashed: 'kept' });
  });
});

describe('censorSensitive', () => {
  it('censors at any depth, inside arrays, without changing the logged object', () => {
    const logged = {
      a: { b: { c: { phone: 'MARK-1' } } },
      list: [{ fullName: 'MARK-2' }, 'plain'],
      Authorization: 'MARK-3',
      keep: { id: 7 },
    };
    const before = JSON.stringify(logged);
    const out = censorSensitive(logged);
    expect(JSON.stringify(out)).not.toContain('MARK-');
    expect(out).toEqual({
      a: { b: { c: { phone: '[redacted]' } } },
      list: [{ fullName: '[redacted]' }, 'plain'],
      Authorization: '[redacted]',
      keep: { id: 7 },
    });
    expect(JSON.stringify(logged)).toBe(before);
    // Nothing to censor: the same object, no copy.
    const clean = { x: { y: [1, 2] } };
    expect(censorSensitive(clean)).toBe(clean);
  });

  it('logs a class instance by its class only, and an error anywhere as its serializer has it', () => {
    class SurvivorDto {
      fullName = 'MARK-Nguyễn Thị Giả Định';
      phone = '0900 000 111';
    }
    const failure = Object.assign(new Error('duplicate key: Key (bi_name)=(MARK-value) exists'), {
      parameters: ['MARK-parameter'],
      code: '23505',
    });
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    const at = new Date('2026-12-06T00:00:00.000Z');
    logger.info({ dto: new SurvivorDto(), nested: { error: failure }, at }, 'looked at');
    const line = JSON.parse(lines[0]) as Record<string, any>;
    expect(line.dto).toBe('[SurvivorDto]');
    expect(line.nested.error).toMatchObject({ type: 'Error', code: '23505' });
    expect(line.at).toBe(at.toISOString());
    expect(lines[0]).not.toContain('MARK-');
  });

  it('drops what is nested too deep to inspect', () => {
    const deep = { l1: { l2: { l3: { l4: { l5: { l6: { password: 'MARK-deep' } } } } } } };
    expect(JSON.stringify(censorSensitive(deep))).not.toContain('MARK-');
  });
});

describe('error serialisation', () => {
  it('keeps type, code and message shape but drops parameters and detail, and masks quoted values', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    const driverError = Object.assign(new Error('invalid input syntax for type uuid: "MARK-Nguyễn"'), {
      name: 'QueryFailedError',
      code: '22P02',
      parameters: ['MARK-param'],
      detail: 'Key (username)=(MARK-user) already exists.',
      query: 'SELECT 1 WHERE x = $1',
    });
    logger.error({ err: driverError }, 'request failed');
    const text = lines.join('');
    expect(text).not.toContain('MARK-');
    const entry = JSON.parse(text) as { err: Record<string, unknown> };
    expect(entry.err).toMatchObject({
      type: 'QueryFailedError',
      code: '22P02',
      message: 'invalid input syntax for type uuid: "…"',
    });
    expect(entry.err).not.toHaveProperty('parameters');
    expect(entry.err).not.toHaveProperty('detail');
  });

  it('masks a quoted value with a newline or a quote inside it, in the message and the stack', () => {
    for (const value of ['MARK-a\nMARK-b', 'MARK-a"MARK-b', 'MARK-a" and "MARK-b']) {
      const serialized = serializeError(new Error(`invalid input syntax for type uuid: "${value}"`));
      expect(JSON.stringify(serialized)).not.toContain('MARK-');
      expect(serialized.message).toBe('invalid input syntax for type uuid: "…"');
    }
    expect(serializeError(new Error('Key (username)=(MARK-a) (again)=(MARK-b) exists')).message).toBe(
      'Key (username)=(…) exists',
    );
    expect(JSON.stringify(serializeError(new Error('Key (username)=(MARK-a\nMARK-b) exists')))).not.toContain(
      'MARK-',
    );
    // The stack's frames stay readable: only its message is masked.
    const { stack } = serializeError(new Error('Key (username)=(MARK-a) exists')) as { stack: string };
    expect(stack).toMatch(/^Error: Key \(username\)=\(…\) exists\n\s+at /);
    expect(stack).toContain('logger.spec.ts');
  });
});

describe("Nest's own log lines", () => {
  it('mask a quoted value in an error’s message and stack, and in a warning', () => {
    const { lines, stream } = capture();
    const nest = new PinoNestLogger(createLogger('info', stream));
    nest.error(
      'Unable to connect to the database: invalid input syntax for type uuid: "MARK-Nguyễn"',
      'QueryFailedError: invalid input syntax for type uuid: "MARK-Nguyễn"\n    at Parser.parseErrorMessage',
      'TypeOrmModule',
    );
    nest.warn('Key (username)=(MARK-user) already exists', 'Somewhere');
    const text = lines.join('');
    expect(text).not.toContain('MARK-');
    const [error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(error).toMatchObject({
      context: 'TypeOrmModule',
      msg: 'Unable to connect to the database: invalid input syntax for type uuid: "…"',
    });
    expect(error.trace).toMatch(/^QueryFailedError: invalid input syntax for type uuid: "…"/);
  });
});
