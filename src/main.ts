import 'reflect-metadata';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { createHavenApp, handlersInFlightOf } from './app.factory';
import { createLogger } from './common/logging/logger';
import {
  ConfigError,
  exposureWarnings,
  isMisconfiguration,
  loadConfig,
  unknownVariablesWarning,
} from './config/config';
import { startDatabase } from './database/embedded-database';

/**
 * A second stop signal within this long of the first is the same stop delivered twice (npm passing on the
 * terminal's Ctrl-C, systemd signalling the whole control group), not a second request to hurry.
 */
const REPEATED_SIGNAL_MS = 2_000;
/**
 * The least time the shutdown hooks get once the requests have drained (HAVEN_SHUTDOWN_TIMEOUT_MS when longer):
 * signing the last checkpoint and closing the pool take well under a second.
 */
const SHUTDOWN_HOOKS_MIN_MS = 5_000;

/** The error code when `host:port` cannot be listened on now (EADDRINUSE, EACCES, …), else null. */
function addressTaken(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

async function main(): Promise<void> {
  // A stop asked for while starting (SIGTERM from an orchestrator, Ctrl-C) is honoured once the step under way
  // ends, so that an embedded PostgreSQL already started is stopped too rather than left behind.
  let stopRequested: NodeJS.Signals | null = null;
  let onStop: ((signal: NodeJS.Signals) => void) | null = null;
  // Whether a stop was asked for: a supervisor that signals the whole process tree (systemd's control group,
  // PM2) stops the embedded PostgreSQL too, which is then no surprise.
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    signalled = true;
    if (onStop) onStop(signal);
    else stopRequested ??= signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A terminal that goes away (an SSH session dropped under `npm start`): stopped as cleanly as by SIGTERM, not
  // killed by Node's default with the embedded PostgreSQL left running and no last checkpoint.
  process.on('SIGHUP', onSignal);

  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      const unknown = unknownVariablesWarning(); // the misspelling may be why
      if (unknown) process.stderr.write(`warning: ${unknown}\n`);
      process.stderr.write(`Haven cannot start. ${e.message}\nSee config/env.example.\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const logger = createLogger(config.logLevel);
  for (const warning of exposureWarnings(config)) logger.warn(warning);
  const unknown = unknownVariablesWarning();
  if (unknown) logger.warn(unknown);
  // The HTTP address first, before anything is started or seeded: a port taken by another server found only at
  // `listen` came after the demo's first start had printed its password (once: a second start does not), and
  // the password was lost with the failed run's output.
  const taken = await addressTaken(config.host, config.port);
  if (taken) {
    process.stderr.write(
      `Haven cannot listen on ${config.host}:${config.port} (${taken}): check HOST and PORT.\n`,
    );
    process.exit(1);
  }
  const database = await startDatabase(config, logger).catch((e: unknown) => {
    // A data directory to put right (its password file lost): configuration, as a bad variable is.
    if (!isMisconfiguration(e)) throw e;
    process.stderr.write(`Haven cannot start. ${(e as Error).message}\n`);
    return process.exit(78);
  });
  // The embedded server gone (killed, out of memory): Haven stops too, so that whatever runs it restarts both,
  // rather than answer 503 for ever.
  database.embedded?.onUnexpectedExit((code, signal) => {
    if (signalled) {
      logger.info({ code, signal }, 'the embedded PostgreSQL stopped with the rest (a stop was asked for)');
      return;
    }
    logger.fatal(
      { code, signal },
      'the embedded PostgreSQL stopped unexpectedly: Haven stops too (exit 1); start it again',
    );
    process.exit(1);
  });
  const stopEarly = async (app?: { close(): Promise<void> }): Promise<never> => {
    logger.info(
      { signal: stopRequested },
      'stop asked for during start-up: not serving, closing the database',
    );
    await app?.close();
    await database.stop();
    logger.info('stopped cleanly');
    process.exit(0);
  };
  if (stopRequested !== null) await stopEarly();

  let app;
  try {
    app = await createHavenApp(config, logger, database.url);
    if (stopRequested === null) await app.listen(config.port, config.host);
  } catch (e) {
    logger.fatal({ err: e }, 'start-up failed');
    await app?.close().catch(() => undefined);
    await database.stop();
    // Key material that cannot be used (HAVEN_MASTER_KEY / _FILE) is configuration too.
    const misconfigured = isMisconfiguration(e);
    if (misconfigured) process.stderr.write(`Haven cannot start. ${(e as Error).message}\n`);
    const listen =
      (e as NodeJS.ErrnoException).syscall === 'listen' || (e as { code?: string }).code === 'ENOTFOUND';
    if (listen) {
      process.stderr.write(
        `Haven cannot listen on ${config.host}:${config.port} (${(e as NodeJS.ErrnoException).code}): ` +
          'check HOST and PORT.\n',
      );
    }
    process.exit(misconfigured ? 78 : 1);
  }
  if (stopRequested !== null) await stopEarly(app);
  logger.info(
    { host: config.host, port: config.port },
    `Haven listening on http://${config.host}:${config.port}`,
  );

  let stopping = false;
  const server: Server = app.getHttpServer();
  /** Resolved by a second stop signal: the stop goes on without waiting for requests any more. */
  let hurry!: () => void;
  const hurried = new Promise<void>((resolve) => (hurry = resolve));
  /** How long the shutdown hooks (last checkpoint, pool, workers) may take once the requests have drained. */
  const hooksBoundMs = Math.max(SHUTDOWN_HOOKS_MIN_MS, config.shutdownTimeoutMs);
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const signalledAt = performance.now();
    logger.info({ signal }, 'shutting down: draining HTTP, then closing the database');
    // Stop accepting at once; a request still arriving on a kept-alive connection is answered with
    // "Connection: close", and its connection ends with that answer.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      res.shouldKeepAlive = false;
    });
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    // Connections whose request was in flight at the signal keep alive after their answer: closed as soon as
    // they are idle (the listener above only reaches requests that arrive later).
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    idle.unref();
    void drained.then(() => clearInterval(idle));
    // In-flight requests may finish until the timeout; after it, remaining connections are cut.
    const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
    force.unref();
    const handlers = handlersInFlightOf(app);
    try {
      // Only once every connection has ended, and every request's handling with it (a client that hung up ends
      // its connection while its handler goes on: a refusal's access-log entry still to write), do the shutdown
      // hooks run: the password-hashing workers stop, the last checkpoint is signed (covering every entry
      // written while draining), the pool closes. The handlers get what is left of the timeout.
      await drained;
      // A second stop signal ends this wait too, as it cuts the connections.
      const left = Math.max(0, config.shutdownTimeoutMs - (performance.now() - signalledAt));
      const settled = await Promise.race([
        handlers.settled().then(() => true),
        hurried.then(() => false),
        new Promise<false>((resolve) => setTimeout(resolve, left, false).unref()),
      ]);
      if (!settled) {
        logger.error(
          { requests: handlers.count },
          'requests still being handled when the stop went on: what they had left to do may be lost',
        );
      }
      // Bounded too: a hook that never returns (the last checkpoint waiting on a lock someone holds, a pool
      // whose connection hangs) must not keep a stop asked for from ending. Past the bound: logged, the
      // database stopped, exit 1.
      const stuck = setTimeout(() => {
        logger.error(
          { afterMs: hooksBoundMs },
          'unclean shutdown: the shutdown hooks did not finish in time',
        );
        void database
          .stop()
          .catch(() => undefined)
          .finally(() => process.exit(1));
      }, hooksBoundMs);
      stuck.unref();
      await app.close();
      await database.stop();
      logger.info('stopped cleanly');
      process.exit(0);
    } catch (e) {
      logger.error({ err: e }, 'unclean shutdown');
      await database.stop().catch(() => undefined);
      process.exit(1);
    }
  };
  let cut = false;
  let firstSignalAt = 0;
  onStop = (s) => {
    if (!stopping) {
      firstSignalAt = performance.now();
      return void shutdown(s);
    }
    // A stop asked for again (Ctrl-C again, an impatient supervisor): the requests still in flight are cut now
    // rather than at the timeout; the rest of the stop (last checkpoint, database) goes on as before. Not a
    // repeat of the first: under `npm start` a Ctrl-C reaches this process from the terminal and from npm,
    // which passes it on, and systemd signals every process of the service, so one stop arrives twice at once.
    if (cut || performance.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
    cut = true;
    logger.warn({ signal: s }, 'stop asked for again: cutting the connections still open');
    server.closeAllConnections();
    hurry();
  };
  // Started by npm (`npm start`), which can die without passing on its signal: re-parented then, shut down
  // rather than live on as an orphan holding the embedded PostgreSQL. Not otherwise: a launcher that forks into
  // the background (nohup, start-stop-daemon) exits on purpose and leaves the service running.
  if (process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) {
        logger.warn({ parent }, 'npm, which started this process, is gone: shutting down');
        void shutdown('SIGTERM');
      }
    }, 1000).unref();
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`Haven failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
