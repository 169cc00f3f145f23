import { isMisconfiguration, unknownVariablesWarning } from '../config/config';

/** An error a tool explains itself: its exit code and what it says (e.g. users:create-admin's refusals, 65). */
export interface ToolRefusal {
  exitCode: number;
  message: string;
}

export interface RunToolOptions {
  /** The exit code of any other error: 1 unless the tool documents another (audit:verify: 2). */
  failureCode?: number;
  /** The errors the tool explains itself; `undefined` for the others. */
  refusal?: (e: unknown) => ToolRefusal | undefined;
}

/**
 * Runs a command-line tool's `main` and ends the process with its answer: the exit code it returns; on an
 * error, one line on standard error and 78 (EX_CONFIG) for a bad configuration (with where the variables are
 * described), the tool's own refusal, or `failureCode`. The errors of the config and crypto modules name
 * variables and files, never key material or plaintext.
 */
export function runTool(name: string, main: () => Promise<number>, options: RunToolOptions = {}): void {
  const unknown = unknownVariablesWarning();
  if (unknown) process.stderr.write(`warning: ${unknown}\n`);
  main().then(
    (code) => exitAfterOutput(code),
    (e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      // One answer each: exitAfterOutput returns at once (the process ends once the output has gone out).
      if (isMisconfiguration(e)) {
        process.stderr.write(`${name}: ${message}\nSee config/env.example.\n`);
        return exitAfterOutput(78);
      }
      const refused = options.refusal?.(e);
      if (refused) {
        process.stderr.write(`${name} refused: ${refused.message}\n`);
        return exitAfterOutput(refused.exitCode);
      }
      process.stderr.write(`${name} failed: ${message}\n`);
      exitAfterOutput(options.failureCode ?? 1);
    },
  );
}

/**
 * Ends the process with `code` once what was written to standard output and error has gone out (to a pipe or
 * a file a result could otherwise be cut short), without waiting for handles a library left open.
 */
function exitAfterOutput(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
