import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import type { GatedRead, GatedWrite } from '../database/gated-write';
import { AdminUnitsRepository } from '../directory/admin-units.repository';
import { CommuneProvinces } from '../directory/commune-provinces';
import { AuditEntryError } from './audit-entry.guard';
import { AuditService } from './audit.service';
import { AuditFixture, CASE_ID, CASE_READ as READ, givenAuditLog, WARD_OFFICER } from './audit.spec-helpers';
import { AUDIT_STRIPES, type AuditEntryInput } from './audit.types';

describe('AuditService (writer)', () => {
  let f: AuditFixture;

  beforeAll(async () => {
    f = await givenAuditLog();
    await f.owner.query(
      `INSERT INTO admin_units (code, level, kind, province_code, name_vi, name_en, full_name_vi, full_name_en) VALUES
         ('01', 'province', 'thanh_pho', NULL, 'Hà Nội', 'Ha Noi', 'Thành phố Hà Nội', 'Ha Noi City'),
         ('31', 'province', 'thanh_pho', NULL, 'Hải Phòng', 'Hai Phong', 'Thành phố Hải Phòng', 'Hai Phong City'),
         ('00145', 'commune', 'phuong', '01', 'Long Biên', 'Long Bien', 'Phường Long Biên', 'Long Bien Ward')`,
    );
  });
  afterAll(async () => {
    await f.close();
  });

  const count = async () =>
    Number((await f.owner.query<{ n: string }[]>('SELECT count(*) AS n FROM audit_events'))[0].n);

  it('writes an entry in the caller’s transaction, with the actor’s and the resource’s jurisdiction', async () => {
    const { seq } = await f.app.transaction((m) =>
      f.audit.record(m, WARD_OFFICER, { ...READ, provinceCode: '31', wardCode: null }),
    );
    const [row] = await f.owner.query<Record<string, unknown>[]>(
      `SELECT actor_id, actor_role, actor_communes, action, resource_type, resource_id, case_id, fields, outcome,
              province_code, jurisdictions, length(mac) AS mac_bytes FROM audit_events WHERE seq = $1`,
      [seq],
    );
    expect(row).toEqual({
      actor_id: WARD_OFFICER.userId,
      actor_role: 'ward_officer',
      actor_communes: ['00145'],
      action: 'case.read',
      resource_type: 'case',
      resource_id: CASE_ID,
      case_id: CASE_ID,
      fields: ['triage', 'identity'],
      outcome: 'allowed',
      province_code: '31',
      // The case's province and the officer's (through commune 00145).
      jurisdictions: ['01', '31'],
      mac_bytes: 32,
    });
    expect((await f.verify()).ok).toBe(true);
  });

  it('rolls back with the access: an access that fails leaves no entry, and the gap it leaves is not a finding', async () => {
    const before = await count();
    await expect(
      f.app.transaction(async (m) => {
        await f.audit.record(m, WARD_OFFICER, READ);
        throw new Error('the access failed after it was recorded');
      }),
    ).rejects.toThrow('the access failed');
    expect(await count()).toBe(before);
    await f.app.transaction((m) => f.audit.record(m, WARD_OFFICER, READ));
    expect(await f.verify()).toMatchObject({ ok: true, checked: before + 1 });
  });

  it('fails the access when the entry cannot be written (refused by the writer or by the database)', async () => {
    const access = (entry: AuditEntryInput) =>
      f.app.transaction(async (m) => {
        await m.query(`INSERT INTO demo_seed_runs (step) VALUES ('audit-probe')`);
        await f.audit.record(m, WARD_OFFICER, entry);
      });
    await expect(access({ ...READ, caseId: 'not-a-uuid' })).rejects.toThrow(AuditEntryError);
    // The database refuses the insert (a constraint added for the test): the access's own write is undone.
    await f.owner.query(
      `ALTER TABLE audit_events ADD CONSTRAINT probe_refuse CHECK (action <> 'note.create')`,
    );
    try {
      await expect(access({ action: 'note.create', resourceType: 'note' })).rejects.toThrow(/probe_refuse/);
    } finally {
      await f.owner.query(`ALTER TABLE audit_events DROP CONSTRAINT probe_refuse`);
    }
    expect(await f.owner.query(`SELECT 1 FROM demo_seed_runs WHERE step = 'audit-probe'`)).toEqual([]);
    expect((await f.verify()).ok).toBe(true);
  });

  it('session(): a refusal thrown after deny.refusals() is on record with its code, once, and nothing else is', async () => {
    const entries = async () =>
      f.owner.query<{ action: string; outcome: string; reason: string | null }[]>(
        `SELECT action, outcome, reason FROM audit_events WHERE request_id = 'a4ed4ef05a150001' ORDER BY seq`,
      );
    const actor = WARD_OFFICER;
    const refusal: AuditEntryInput = {
      action: 'consent.withdraw',
      resourceType: 'consent',
      caseId: CASE_ID,
      provinceCode: '01',
      request: { requestId: 'a4ed4ef05a150001' },
    };
    /** A session that arms the refusal (or not), notes a denial of its own (or not), then fails with `e`. */
    const failing = (e: Error, arm: boolean, own?: string) =>
      f.audit.session((_m, deny) => {
        if (arm) deny.refusals(actor, refusal);
        if (own) deny(actor, { ...refusal, reason: own });
        return Promise.reject(e);
      });
    // Before arming, or for an error that is no refusal: nothing.
    await expect(failing(new DomainError('conflict.state'), false)).rejects.toThrow();
    await expect(failing(new Error('not a refusal'), true)).rejects.toThrow('not a refusal');
    expect(await entries()).toEqual([]);
    // Armed: the refusal's code; a denial the work notes itself stands instead.
    await expect(failing(new DomainError('conflict.state'), true)).rejects.toThrow();
    await expect(
      failing(new DomainError('conflict.state'), true, 'break_glass.unjustified'),
    ).rejects.toThrow();
    expect(await entries()).toEqual([
      { action: 'consent.withdraw', outcome: 'denied', reason: 'conflict.state' },
      { action: 'consent.withdraw', outcome: 'denied', reason: 'break_glass.unjustified' },
    ]);
  });

  it('needs the manager of an open transaction', async () => {
    await expect(f.audit.record(f.app.manager, WARD_OFFICER, READ)).rejects.toThrow(/open transaction/);
  });

  it('recordNow(): a read’s entry in a statement of its own, committed when it returns', async () => {
    const before = await count();
    const runner = f.app.createQueryRunner();
    try {
      const { seq } = await f.audit.recordNow(runner.manager, WARD_OFFICER, READ);
      // Seen at once from another connection: committed before the read hands anything out.
      const [row] = await f.owner.query<{ action: string }[]>(
        `SELECT action FROM audit_events WHERE seq = $1`,
        [seq],
      );
      expect(row.action).toBe('case.read');
      expect(await count()).toBe(before + 1);
      // Refused by the database: it throws (so the read fails) and writes nothing.
      await f.owner.query(
        `ALTER TABLE audit_events ADD CONSTRAINT probe_refuse CHECK (action <> 'case.list')`,
      );
      try {
        await expect(
          f.audit.recordNow(runner.manager, WARD_OFFICER, { action: 'case.list', resourceType: 'case' }),
        ).rejects.toThrow(/probe_refuse/);
      } finally {
        await f.owner.query(`ALTER TABLE audit_events DROP CONSTRAINT probe_refuse`);
      }
      expect(await count()).toBe(before + 1);
    } finally {
      await runner.release();
    }
    // Inside a transaction it would not be committed on return: refused.
    await expect(f.app.transaction((m) => f.audit.recordNow(m, WARD_OFFICER, READ))).rejects.toThrow(
      /outside any transaction/,
    );
    expect((await f.verify()).ok).toBe(true);
  });

  describe('recordWith(): an entry and the writes it covers, in one statement', () => {
    // A covered write for the tests: a row of demo_seed_runs (primary key `step`).
    const note =
      (step: string): GatedWrite =>
      (gate, p) =>
        `INSERT INTO demo_seed_runs (step) SELECT ${p(step, 'text')} FROM ${gate} RETURNING step`;
    const notes = async (prefix: string) =>
      (
        await f.owner.query<{ step: string }[]>(
          `SELECT step FROM demo_seed_runs WHERE step LIKE $1 ORDER BY step`,
          [`${prefix}%`],
        )
      ).map((r) => r.step);
    const onConnection = async <T>(work: (m: EntityManager) => Promise<T>): Promise<T> => {
      const runner = f.app.createQueryRunner();
      try {
        return await work(runner.manager);
      } finally {
        await runner.release();
      }
    };
    /** A second writer whose view of one stripe's head is stale: others have appended to that stripe since. */
    const staleWriter = async (): Promise<AuditService> => {
      const writer = () =>
        new AuditService(f.app, f.crypto.keys, new CommuneProvinces(new AdminUnitsRepository(f.app)));
      const a = writer();
      const { stripe } = await a.recordInOwnTransaction(WARD_OFFICER, READ);
      for (let i = 0; i < 300; i++) {
        if ((await writer().recordInOwnTransaction(WARD_OFFICER, READ)).stripe === stripe) break;
      }
      return a;
    };
    const ENTRY = {
      action: 'case.create',
      resourceType: 'case',
      resourceId: CASE_ID,
      caseId: CASE_ID,
    } as const;

    it('land together, committed when it returns, with what the returning write gave back', async () => {
      const before = await count();
      const { recorded, rows } = await onConnection((m) =>
        f.audit.recordWith(m, WARD_OFFICER, ENTRY, [note('with-a')], note('with-b')),
      );
      expect(rows).toEqual([{ step: 'with-b' }]);
      expect(await notes('with-')).toEqual(['with-a', 'with-b']);
      // A returning write that gives back nothing: no rows, and the entry is written all the same.
      const none: GatedWrite = (gate, p) =>
        `INSERT INTO demo_seed_runs (step) SELECT ${p('with-none', 'text')} FROM ${gate} WHERE false RETURNING step`;
      const nothing = await onConnection((m) => f.audit.recordWith(m, WARD_OFFICER, ENTRY, [], none));
      expect(nothing.rows).toEqual([]);
      expect(nothing.recorded.seq).toBeGreaterThan(recorded.seq);
      const [entry] = await f.owner.query<{ action: string }[]>(
        `SELECT action FROM audit_events WHERE seq = $1`,
        [recorded.seq],
      );
      expect(entry.action).toBe('case.create');
      expect(await count()).toBe(before + 2);
      expect((await f.verify()).ok).toBe(true);
    });

    it('land not at all when any part is refused: the entry by the database, or a covered write', async () => {
      const before = await count();
      await f.owner.query(
        `ALTER TABLE audit_events ADD CONSTRAINT probe_refuse CHECK (action <> 'case.create') NOT VALID`,
      );
      try {
        await expect(
          onConnection((m) =>
            f.audit.recordWith(m, WARD_OFFICER, ENTRY, [note('refused-a')], note('refused-b')),
          ),
        ).rejects.toThrow(/probe_refuse/);
      } finally {
        await f.owner.query(`ALTER TABLE audit_events DROP CONSTRAINT probe_refuse`);
      }
      // A covered write the database refuses (its key exists): no entry either.
      await expect(
        onConnection((m) => f.audit.recordWith(m, WARD_OFFICER, ENTRY, [note('with-a')], note('refused-c'))),
      ).rejects.toThrow(/demo_seed_runs_pkey/);
      expect(await notes('refused-')).toEqual([]);
      expect(await count()).toBe(before);
      expect((await f.verify()).ok).toBe(true);
    });

    it('land once when the stripe head moved under the entry: nothing was written, and the statement is retried', async () => {
      const a = await staleWriter();
      const retake = jest.spyOn(a as never, 'retake');
      const before = await count();
      const { recorded, rows } = await onConnection((m) =>
        a.recordWith(m, WARD_OFFICER, ENTRY, [note('moved-a')], note('moved-b')),
      );
      // A's first attempt on the stripe it knew found the head moved: a head read again, written once.
      expect(retake).toHaveBeenCalledTimes(1);
      expect(rows).toEqual([{ step: 'moved-b' }]);
      expect(await notes('moved-')).toEqual(['moved-a', 'moved-b']);
      expect(await count()).toBe(before + 1);
      expect((await f.verify()).ok).toBe(true);
      expect(recorded.seq).toBeGreaterThan(0);
    });

    it('inside a transaction, commits or rolls back with it', async () => {
      await expect(
        f.app.transaction(async (m) => {
          await f.audit.recordWith(m, WARD_OFFICER, ENTRY, [], note('in-txn-a'));
          throw new Error('the registration failed afterwards');
        }),
      ).rejects.toThrow('afterwards');
      expect(await notes('in-txn-')).toEqual([]);
      await f.app.transaction((m) => f.audit.recordWith(m, WARD_OFFICER, ENTRY, [], note('in-txn-b')));
      expect(await notes('in-txn-')).toEqual(['in-txn-b']);
      expect((await f.verify()).ok).toBe(true);
    });

    it('refuses a write that does not take its rows from the gate (it would land without the entry)', async () => {
      const before = await count();
      const ungated: GatedWrite = (_gate, p) =>
        `INSERT INTO demo_seed_runs (step) VALUES (${p('ungated', 'text')})`;
      await expect(
        onConnection((m) => f.audit.recordWith(m, WARD_OFFICER, ENTRY, [ungated], note('ungated-b'))),
      ).rejects.toThrow(/FROM moved/);
      expect(await notes('ungated')).toEqual([]);
      expect(await count()).toBe(before);
    });

    describe('recordRead(): a read and its entry in one statement', () => {
      // A read for the tests: rows of demo_seed_runs, taken FROM the gate.
      const read =
        (prefix: string): GatedRead =>
        (gate, p) =>
          `SELECT d.step FROM ${gate} CROSS JOIN demo_seed_runs d WHERE d.step LIKE ${p(`${prefix}%`, 'text')}
            ORDER BY d.step`;
      const entriesOf = async (seqFrom: number) =>
        (
          await f.owner.query<{ action: string }[]>(
            `SELECT action FROM audit_events WHERE seq > $1 ORDER BY seq`,
            [seqFrom],
          )
        ).map((r) => r.action);
      const lastSeq = async () =>
        Number((await f.owner.query<{ n: string }[]>(`SELECT max(seq) AS n FROM audit_events`))[0].n);

      it('gives back the rows with the entry committed; a read that finds nothing is on record too', async () => {
        await onConnection((m) =>
          f.audit.recordWith(m, WARD_OFFICER, ENTRY, [note('read-a')], note('read-b')),
        );
        const from = await lastSeq();
        const rows = await onConnection((m) => f.audit.recordRead(m, WARD_OFFICER, READ, read('read-')));
        expect(rows).toEqual([{ step: 'read-a' }, { step: 'read-b' }]);
        expect(await entriesOf(from)).toEqual(['case.read']);
        const none = await onConnection((m) => f.audit.recordRead(m, WARD_OFFICER, READ, read('nothing-')));
        expect(none).toEqual([]);
        expect(await entriesOf(from)).toEqual(['case.read', 'case.read']);
        expect((await f.verify()).ok).toBe(true);
      });

      it('gives back nothing when the entry is refused, and is retried when the stripe head moved', async () => {
        await onConnection((m) => f.audit.recordWith(m, WARD_OFFICER, ENTRY, [], note('gate-a')));
        const from = await lastSeq();
        await f.owner.query(
          `ALTER TABLE audit_events ADD CONSTRAINT probe_refuse CHECK (action <> 'case.read') NOT VALID`,
        );
        try {
          await expect(
            onConnection((m) => f.audit.recordRead(m, WARD_OFFICER, READ, read('gate-'))),
          ).rejects.toThrow(/probe_refuse/);
        } finally {
          await f.owner.query(`ALTER TABLE audit_events DROP CONSTRAINT probe_refuse`);
        }
        expect(await entriesOf(from)).toEqual([]);
        // Another writer moves the head of the stripe this one knows: the first attempt reads nothing, the
        // second reads a head again and gives the rows back once, with one entry.
        const a = await staleWriter();
        const retake = jest.spyOn(a as never, 'retake');
        const before = await count();
        const rows = await onConnection((m) => a.recordRead(m, WARD_OFFICER, READ, read('gate-')));
        expect(retake).toHaveBeenCalledTimes(1);
        expect(rows).toEqual([{ step: 'gate-a' }]);
        expect(await count()).toBe(before + 1);
        expect((await f.verify()).ok).toBe(true);
      });

      it('refuses a transaction (the rows would leave before the entry commits) and an ungated read', async () => {
        const before = await count();
        await expect(
          f.app.transaction((m) => f.audit.recordRead(m, WARD_OFFICER, READ, read('read-'))),
        ).rejects.toThrow(/outside any transaction/);
        const ungated: GatedRead = () => `SELECT step FROM demo_seed_runs`;
        await expect(onConnection((m) => f.audit.recordRead(m, WARD_OFFICER, READ, ungated))).rejects.toThrow(
          /FROM moved/,
        );
        expect(await count()).toBe(before);
      });
    });
  });

  it('two writers on one database (two instances) chain on each other’s heads: a moved head is read again, never forked', async () => {
    const writer = () =>
      new AuditService(f.app, f.crypto.keys, new CommuneProvinces(new AdminUnitsRepository(f.app)));
    const before = await count();
    const a = writer();
    const { stripe } = await a.recordInOwnTransaction(WARD_OFFICER, READ);
    // Another instance appends to that same stripe: A's view of its head is now out of date.
    let landed = 1;
    for (let i = 0; i < 300; i++, landed++) {
      if ((await writer().recordInOwnTransaction(WARD_OFFICER, READ)).stripe === stripe) break;
    }
    const retake = jest.spyOn(a as never, 'retake');
    // A prefers the stripe whose head it knows; its conditional insert finds the head moved, reads a head again.
    await a.recordInOwnTransaction(WARD_OFFICER, READ);
    expect(retake).toHaveBeenCalledTimes(1);
    // And under concurrency, both instances at once, in transactions and in statements of their own.
    const b = writer();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0
          ? f.app.transaction((m) => (i % 2 ? a : b).record(m, WARD_OFFICER, READ))
          : (i % 2 ? a : b).recordInOwnTransaction(WARD_OFFICER, READ),
      ),
    );
    expect(await count()).toBe(before + 2 + landed + 60);
    expect(await f.verify()).toMatchObject({ ok: true, checked: before + 2 + landed + 60 });
  });

  it('a statement of its own whose known heads all moved (another instance wrote every stripe) reads a head again instead of trying the next stale one', async () => {
    const writer = () =>
      new AuditService(f.app, f.crypto.keys, new CommuneProvinces(new AdminUnitsRepository(f.app)));
    const before = await count();
    const [a, b] = [writer(), writer()];
    const runner = f.app.createQueryRunner();
    try {
      // A knows every stripe's head; then B appends to every stripe, so that each head A knows is stale.
      const readHead = (w: AuditService, stripe: number) =>
        (w as unknown as { readHead(m: EntityManager, s: number): Promise<unknown> }).readHead(
          runner.manager,
          stripe,
        );
      for (let s = 0; s < AUDIT_STRIPES; s++) await readHead(a, s);
      for (let s = 0; s < AUDIT_STRIPES; s++) await readHead(b, s);
      const stripesB = await Promise.all(
        Array.from({ length: AUDIT_STRIPES }, () => b.recordNow(runner.manager, WARD_OFFICER, READ)),
      );
      expect(new Set(stripesB.map((r) => r.stripe)).size).toBe(AUDIT_STRIPES);
      // Before: each attempt took another stripe whose (stale) head A knew, and the fifth failure failed the read.
      const retake = jest.spyOn(a as never, 'retake');
      await a.recordNow(runner.manager, WARD_OFFICER, READ);
      expect(retake).toHaveBeenCalledTimes(1);
    } finally {
      await runner.release();
    }
    expect(await count()).toBe(before + AUDIT_STRIPES + 1);
    expect(await f.verify()).toMatchObject({ ok: true, checked: before + AUDIT_STRIPES + 1 });
  });

  it('records denials in a transaction of their own, which survive the caller’s rollback', async () => {
    const before = await count();
    await expect(
      f.app.transaction(async () => {
        await f.audit.recordDenied(WARD_OFFICER, {
          action: 'case.read',
          resourceType: 'case',
          resourceId: CASE_ID,
        });
        throw new Error('not found');
      }),
    ).rejects.toThrow('not found');
    expect(await count()).toBe(before + 1);
    const [row] = await f.owner.query<{ outcome: string }[]>(
      `SELECT outcome FROM audit_events ORDER BY seq DESC LIMIT 1`,
    );
    expect(row.outcome).toBe('denied');
  });

  it('records denials while the caller’s transaction holds a stripe, without waiting for it', async () => {
    const before = await count();
    let read = { seq: 0, stripe: -1 };
    let denied = { seq: 0, stripe: -1 };
    await f.app.transaction(async (m) => {
      read = await f.audit.record(m, WARD_OFFICER, READ);
      // Same request, denial in its own transaction: it must take another stripe, not deadlock.
      denied = await f.audit.recordDenied(WARD_OFFICER, {
        action: 'case.update',
        resourceType: 'case',
        resourceId: CASE_ID,
      });
      // Committed already, while the read's transaction is still open.
      const [row] = await f.owner.query<{ outcome: string }[]>(
        `SELECT outcome FROM audit_events WHERE seq = $1`,
        [denied.seq],
      );
      expect(row).toEqual({ outcome: 'denied' });
    });
    expect(denied.stripe).not.toBe(read.stripe);
    expect(await count()).toBe(before + 2);
    expect((await f.verify()).ok).toBe(true);
  });

  it('transaction(): denials are written after the access’s transaction ended, on a connection of its own', async () => {
    const before = await count();
    await expect(
      f.audit.transaction(async (_m, deny) => {
        deny(WARD_OFFICER, { action: 'case.close', resourceType: 'case', resourceId: CASE_ID });
        // Nothing is written while the transaction is open.
        expect(await count()).toBe(before);
        throw new Error('not found');
      }),
    ).rejects.toThrow('not found');
    expect(await count()).toBe(before + 1);
    const ok = await f.audit.transaction((m) => f.audit.record(m, WARD_OFFICER, READ));
    expect(ok.seq).toBeGreaterThan(0);
    expect(await count()).toBe(before + 2);
  });

  it('records sign-ins under the account, and attempts on unknown usernames without an actor', async () => {
    const [{ id }] = await f.owner.query<{ id: string }[]>(
      `INSERT INTO users (username, role, password_hash, province_code) VALUES ('supervisor.test', 'supervisor', 'x', '31')
       RETURNING id`,
    );
    const ok = await f.audit.recordSignIn({ userId: id, outcome: 'allowed' });
    const unknown = await f.audit.recordSignIn({
      userId: null,
      outcome: 'denied',
      reason: 'auth.invalid_credentials',
    });
    const rows = await f.owner.query<Record<string, unknown>[]>(
      `SELECT seq, action, actor_id, actor_role, resource_id, outcome, reason, jurisdictions FROM audit_events
        WHERE seq IN ($1, $2) ORDER BY seq`,
      [ok.seq, unknown.seq],
    );
    expect(rows).toEqual([
      {
        seq: String(ok.seq),
        action: 'auth.login',
        actor_id: id,
        actor_role: 'supervisor',
        resource_id: id,
        outcome: 'allowed',
        reason: null,
        jurisdictions: ['31'],
      },
      {
        seq: String(unknown.seq),
        action: 'auth.login_failed',
        actor_id: null,
        actor_role: null,
        resource_id: null,
        outcome: 'denied',
        reason: 'auth.invalid_credentials',
        jurisdictions: [],
      },
    ]);
  });

  describe('refuses free text (no survivor data can enter the log)', () => {
    const marker = 'Nguyễn Thị Hoa 0987654321';
    const refused: [string, unknown][] = [
      ['an unknown property', { ...READ, survivorName: marker }],
      ['a name as the reason', { ...READ, reason: marker }],
      ['a sentence as the reason', { ...READ, reason: 'denied because of address' }],
      ['a name as the resource id', { ...READ, resourceId: marker }],
      ['a name among the returned ids', { ...READ, returnedIds: [CASE_ID, marker] }],
      ['an unknown field category', { ...READ, fields: ['triage', 'narrative'] }],
      ['an unknown action', { ...READ, action: 'case.peek' }],
      ['an unknown resource type', { ...READ, resourceType: 'survivor' }],
      ['a name as the commune', { ...READ, wardCode: marker }],
      ['text as the request id', { ...READ, request: { requestId: marker } }],
      ['a plain word as the request id', { ...READ, request: { requestId: 'nguyenthihoa0987654321' } }],
      ['a phone number as the request id', { ...READ, request: { requestId: '0987654321' } }],
      [
        'a phone number and a timestamp as the request id',
        { ...READ, request: { requestId: '098765432117640000000' } },
      ],
      ['text as the IP address', { ...READ, request: { ip: marker } }],
      ['unknown request metadata', { ...READ, request: { referer: marker } }],
    ];
    it.each(refused)('%s', async (_what, entry) => {
      const before = await count();
      const error = await f.app
        .transaction((m) => f.audit.record(m, WARD_OFFICER, entry as AuditEntryInput))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(AuditEntryError);
      expect(String((error as Error).message)).not.toContain('Nguyễn');
      expect(String((error as Error).message)).not.toContain('0987654321');
      expect(await count()).toBe(before);
    });

    it('an actor that is not a principal', async () => {
      const error = await f.app
        .transaction((m) => f.audit.record(m, { ...WARD_OFFICER, userId: marker }, READ))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(AuditEntryError);
    });

    it('keeps only the product/version tokens of a user agent', async () => {
      const agents = [
        `Mozilla/5.0 (Windows NT 10.0; ${marker}) AppleWebKit/537.36 ${marker} Chrome/131.0 Safari/537.36`,
        `${marker} lives at 12 Hàng Bạc`,
      ];
      const kept: (string | null)[] = [];
      for (const userAgent of agents) {
        const { seq } = await f.app.transaction((m) =>
          f.audit.record(m, WARD_OFFICER, { ...READ, request: { userAgent } }),
        );
        const [row] = await f.owner.query<{ user_agent: string | null }[]>(
          `SELECT user_agent FROM audit_events WHERE seq = $1`,
          [seq],
        );
        kept.push(row.user_agent);
      }
      expect(kept).toEqual(['Mozilla/5.0 AppleWebKit/537.36 Chrome/131.0 Safari/537.36', null]);
    });

    it('drops user-agent tokens that look like a phone number or a date of birth, however written', async () => {
      const userAgent =
        'Lan/0912345678 Lan/0912.345.678 Lan/091.234.5678 Lan/84-912-345-678 Lan/05.03.2010 ' +
        'Chrome/84.0.4147.105 Chrome/131.0.6778.85';
      const { seq } = await f.app.transaction((m) =>
        f.audit.record(m, WARD_OFFICER, { ...READ, request: { userAgent } }),
      );
      const [row] = await f.owner.query<{ user_agent: string | null }[]>(
        `SELECT user_agent FROM audit_events WHERE seq = $1`,
        [seq],
      );
      expect(row.user_agent).toBe('Chrome/84.0.4147.105 Chrome/131.0.6778.85');
    });
  });

  it('200 concurrent transactions through a pool of 12 write 200 entries on several stripes and a valid chain', async () => {
    const before = await count();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        f.app.transaction(async (m) => {
          // Some work in the transaction before and after, as a case read would do.
          await m.query('SELECT pg_sleep(0.002)');
          const r = await f.audit.record(m, WARD_OFFICER, { ...READ, returnedIds: i % 2 ? [CASE_ID] : [] });
          await m.query('SELECT pg_sleep(0.002)');
          return r;
        }),
      ),
    );
    expect(await count()).toBe(before + 200);
    expect(new Set(results.map((r) => r.seq)).size).toBe(200);
    expect(new Set(results.map((r) => r.stripe)).size).toBeGreaterThan(4);
    const verified = await f.verify();
    expect(verified).toMatchObject({ ok: true, checked: before + 200 });
  });

  it('is not a global lock: while one transaction holds its stripe, others append and commit', async () => {
    const before = await count();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let recorded!: () => void;
    const holding = new Promise<void>((r) => (recorded = r));
    // A keeps its stripe head locked (its entry written, not committed) until told to finish.
    const a = f.app.transaction(async (m) => {
      const r = await f.audit.record(m, WARD_OFFICER, READ);
      recorded();
      await held;
      return r;
    });
    await holding;
    // Meanwhile five more transactions write and commit; none may wait for A (a lock wait would hang here).
    const others = [];
    for (let i = 0; i < 5; i++) {
      others.push(
        await f.app.transaction(async (m) => {
          await m.query(`SET LOCAL lock_timeout = '2s'`);
          return f.audit.record(m, WARD_OFFICER, READ);
        }),
      );
    }
    expect(await count()).toBe(before + 5); // A's entry is not committed yet
    release();
    const first = await a;
    expect(others.every((o) => o.stripe !== first.stripe)).toBe(true);
    expect(await count()).toBe(before + 6);
    expect(await f.verify()).toMatchObject({ ok: true, checked: before + 6 });
  });
});
