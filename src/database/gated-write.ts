/**
 * A write that lands only together with the rest of one statement: the text of a data-modifying CTE
 * (`INSERT … SELECT … FROM <gate>`) whose rows come from the statement's gate CTE, which has one row when the
 * statement's condition holds and none otherwise. So either every gated write of the statement lands, or none
 * does, without a transaction around them (AuditService.recordWith: a registration and its access-log entry).
 *
 * Values go in through `param`, which binds one parameter of the given SQL type and returns its typed
 * placeholder: the text is the same from one call to the next (one prepared statement) and no value ever
 * enters it.
 */
export type GatedWrite = (gate: string, param: BindParam) => string;

/**
 * A read gated the same way: a SELECT taking its rows FROM the gate, so it gives back rows only when the
 * statement's condition holds (AuditService.recordRead: a case's ciphertexts only with the read's entry).
 */
export type GatedRead = GatedWrite;

/** Binds `value` as the statement's next parameter and returns its placeholder, cast to `type`. */
export type BindParam = (value: unknown, type: string) => string;

/** The parameters of one statement, numbered after the `first - 1` the statement already uses. */
export class StatementParams {
  readonly values: unknown[] = [];

  constructor(private readonly first = 1) {}

  readonly bind: BindParam = (value, type) => {
    if (!/^[a-z][a-z0-9_ ]*(\[\])?$/.test(type)) throw new Error(`not an SQL type name: ${type}`);
    this.values.push(value);
    return `$${this.first + this.values.length - 1}::${type}`;
  };
}

/**
 * The SQL of `write` with its rows taken from `gate`. Refuses a write that does not read from the gate: it
 * would land even when the statement's condition does not hold.
 */
export function gatedSql(write: GatedWrite, gate: string, params: StatementParams): string {
  const sql = write(gate, params.bind);
  if (!readsFromGate(gate).test(sql)) {
    throw new Error(`a gated write must take its rows FROM ${gate}`);
  }
  return sql;
}

/** `FROM <gate>` as a pattern, compiled once per gate name (a handful of constants; on every read's path). */
const GATE_PATTERNS = new Map<string, RegExp>();
function readsFromGate(gate: string): RegExp {
  let pattern = GATE_PATTERNS.get(gate);
  if (!pattern) {
    pattern = new RegExp(`\\bFROM\\s+${gate}\\b`);
    GATE_PATTERNS.set(gate, pattern);
  }
  return pattern;
}
