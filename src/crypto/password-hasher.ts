import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Protects account passwords: Argon2id (libsodium crypto_pwhash_str), a salted, memory-hard hash in the
 * PHC string format (`$argon2id$v=19$m=65536,t=2,p=1$salt$hash`), so parameters can be raised later and old
 * hashes upgraded at the next sign-in (verify reports `needsRehash`).
 *
 * Parameters: libsodium's INTERACTIVE limits, t=2 passes over m=64 MiB (p=1). That is above the OWASP
 * minimum for Argon2id (19 MiB, t=2) and takes about 150 ms in libsodium's WebAssembly build on one core of
 * a 2-core server, an acceptable pause for a sign-in and a slow rate for an offline guesser.
 *
 * Hashing runs in a worker thread (at most `cores - 1`, at least one), never on the event loop: a sign-in
 * burst queues behind the worker instead of stalling every other request.
 */
export const PWHASH_OPSLIMIT = 2; // crypto_pwhash_OPSLIMIT_INTERACTIVE
export const PWHASH_MEMLIMIT = 64 * 1024 * 1024; // crypto_pwhash_MEMLIMIT_INTERACTIVE

/**
 * What an unknown username's password is checked against (verifyDummy): the hash, at the parameters above, of a
 * random password that was thrown away. Nothing is secret in it, and nothing it could match would let anyone in
 * (verifyDummy answers false whatever). Written out rather than made at the first unknown username, which then
 * answered a hash's time (~0.15 s) later than a wrong password of a real account: the first one in each process
 * told the name was unknown. Its parameters are the hasher's own (checked by test/crypto/password-hasher.spec.ts).
 */
export const DUMMY_HASH =
  '$argon2id$v=19$m=65536,t=2,p=1$WBaAG5LXi5Wat51AhR542Q$oJNKhBpVZ0V7plt3pvbgH6H9Ls4lR/78cD/2fIFTqmU';

/** Longest password accepted for hashing (bytes of UTF-8); a bound on work per request, far above real use. */
export const MAX_PASSWORD_BYTES = 1024;

export interface PasswordCheck {
  valid: boolean;
  /** The hash was made with weaker parameters than the current ones: store a new one. */
  needsRehash: boolean;
}

type Job =
  | { op: 'hash'; password: string; opslimit: number; memlimit: number }
  | { op: 'verify'; hash: string; password: string; opslimit: number; memlimit: number };

interface Pending {
  resolve(value: unknown): void;
  reject(reason: Error): void;
}

// Plain JavaScript evaluated in the worker; libsodium is loaded there from the path resolved here.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const sodium = require(workerData.sodiumPath);
sodium.ready.then(() => {
  parentPort.on('message', ({ id, job }) => {
    try {
      let result;
      if (job.op === 'hash') {
        result = sodium.crypto_pwhash_str(job.password, job.opslimit, job.memlimit);
      } else {
        const valid = sodium.crypto_pwhash_str_verify(job.hash, job.password);
        let needsRehash = true;
        try { needsRehash = sodium.crypto_pwhash_str_needs_rehash(job.hash, job.opslimit, job.memlimit); } catch {}
        result = { valid, needsRehash };
      }
      parentPort.postMessage({ id, result });
    } catch (e) {
      parentPort.postMessage({ id, error: true });
    }
  });
  parentPort.postMessage({ ready: true });
});
`;

class HashWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private queued = 0;
  private dead = false;
  readonly ready: Promise<void>;

  constructor(onExit: (w: HashWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { sodiumPath: require.resolve('libsodium-wrappers-sumo') },
      // WASM memory grows to hold the Argon2 matrix; nothing else lives in this thread.
      resourceLimits: { maxOldGenerationSizeMb: 64 },
    });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }): void => {
        if (m.ready) {
          this.worker.off('message', onMessage);
          resolve();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
      // Stopped before it was ready (shut down while starting): the jobs waiting for it fail.
      this.worker.once('exit', () => reject(new Error('password hashing worker stopped')));
    });
    this.ready.catch(() => undefined); // observed by run(); never an unhandled rejection
    this.worker.on('message', (m: { id?: number; result?: unknown; error?: boolean }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error('password hashing failed'));
      else p.resolve(m.result);
    });
    const fail = (): void => {
      if (this.dead) return;
      this.dead = true;
      this.rejectPending();
      onExit(this);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', fail);
  }

  /** Jobs handed to run() and not finished (including those waiting for the worker to start). */
  get load(): number {
    return this.queued;
  }

  async run<T>(job: Job): Promise<T> {
    this.queued++;
    try {
      await this.ready;
      if (this.dead) throw new Error('password hashing worker stopped');
      const id = this.nextId++;
      return await new Promise<T>((resolve, reject) => {
        this.pending.set(id, { resolve: resolve, reject });
        this.worker.postMessage({ id, job });
      });
    } finally {
      this.queued--;
    }
  }

  /** Stops the worker; jobs still waiting for it fail (their requests answer, instead of waiting for ever). */
  async terminate(): Promise<void> {
    this.dead = true;
    this.rejectPending();
    await this.worker.terminate();
  }

  private rejectPending(): void {
    for (const p of this.pending.values()) p.reject(new Error('password hashing worker stopped'));
    this.pending.clear();
  }
}

/**
 * A worker idle this long is stopped: its WebAssembly memory, grown to hold the 64 MiB Argon2 matrix, never
 * shrinks while it lives (~80 MB of the service's RSS). The next sign-in starts a new one (~0.1 s once).
 */
export const HASH_WORKER_IDLE_MS = 30_000;

/**
 * About what one Argon2id hash or check takes on a worker (64 MiB, 2 passes): 0.11-0.12 s one at a time on the
 * 2-core development machine (2026-12-06), a little more with the rest of the service busy.
 */
const HASH_SECONDS_ESTIMATE = 0.15;

@Injectable()
export class PasswordHasher implements OnModuleDestroy {
  private readonly size = Math.max(1, Math.min(2, availableParallelism() - 1));
  private workers: HashWorker[] = [];
  private idleTimer?: NodeJS.Timeout;
  /** How long an idle worker lives (HASH_WORKER_IDLE_MS; tests shorten it). */
  idleMs = HASH_WORKER_IDLE_MS;

  /** Worker threads alive now. */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * Seconds until a hash asked for now would start: the jobs queued before it, spread over the workers, at
   * HASH_SECONDS_ESTIMATE each. A sign-in flood shows here first (AuthService sheds sign-ins past a bound).
   */
  get backlogSeconds(): number {
    const queued = this.workers.reduce((n, w) => n + w.load, 0);
    return (queued / this.size) * HASH_SECONDS_ESTIMATE;
  }

  /**
   * Hashes the password in Unicode NFC: Vietnamese typed through different input methods arrives composed
   * ("ậ" one code point) or decomposed ("a" + two marks), and must match either way.
   */
  async hash(password: string): Promise<string> {
    checkLength(password);
    return this.track(
      this.pick().run<string>({
        op: 'hash',
        password: password.normalize('NFC'),
        opslimit: PWHASH_OPSLIMIT,
        memlimit: PWHASH_MEMLIMIT,
      }),
    );
  }

  /**
   * Checks the password in NFC (as hash() stores it). A hash stored before passwords were normalised may be
   * of the decomposed form as typed: when the NFC form fails and differs, the form as typed is tried too, and
   * a match asks for a re-hash (stored in NFC from then on). The second try depends on the input only, so
   * the timing says nothing about the account.
   */
  async verify(hash: string, password: string): Promise<PasswordCheck> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
      // Still spend the time of a real check, so the answer's timing says nothing.
      await this.verifyDummy('');
      return { valid: false, needsRehash: false };
    }
    const composed = password.normalize('NFC');
    const check = await this.verifyAs(hash, composed);
    if (check.valid || composed === password) return check;
    const asTyped = await this.verifyAs(hash, password);
    return asTyped.valid ? { valid: true, needsRehash: true } : check;
  }

  private verifyAs(hash: string, password: string): Promise<PasswordCheck> {
    return this.track(
      this.pick().run<PasswordCheck>({
        op: 'verify',
        hash,
        password,
        opslimit: PWHASH_OPSLIMIT,
        memlimit: PWHASH_MEMLIMIT,
      }),
    );
  }

  /**
   * Verifies against the hash of a random password nobody knows: used for unknown usernames so that they
   * take as long as a wrong password for a real account. Always false.
   */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(DUMMY_HASH, password.slice(0, MAX_PASSWORD_BYTES));
    return false;
  }

  /** After each job: once every worker is idle, stop them all when idleMs passes without another job. */
  private async track<T>(job: Promise<T>): Promise<T> {
    clearTimeout(this.idleTimer);
    try {
      return await job;
    } finally {
      if (this.workers.every((w) => w.load === 0)) {
        this.idleTimer = setTimeout(() => void this.retireIdle(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  private async retireIdle(): Promise<void> {
    const idle = this.workers.filter((w) => w.load === 0);
    this.workers = this.workers.filter((w) => w.load > 0);
    await Promise.all(idle.map((w) => w.terminate()));
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.idleTimer);
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private pick(): HashWorker {
    if (this.workers.length < this.size) {
      const w = new HashWorker((dead) => (this.workers = this.workers.filter((x) => x !== dead)));
      this.workers.push(w);
      return w;
    }
    return this.workers.reduce((a, b) => (b.load < a.load ? b : a));
  }
}

function checkLength(password: string): void {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new RangeError(`passwords are limited to ${MAX_PASSWORD_BYTES} bytes`);
  }
}
