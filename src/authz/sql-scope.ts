import { rulesToAST } from '@casl/ability/extra';
import type { AppAbility } from './ability.factory';
import type { Action, SubjectName } from './subjects';

/**
 * Turns the CASL rules of one action on one subject type into a parameterised SQL condition, so that lists
 * and counts are filtered by the database with exactly the rules that decide single records. Supported:
 * equality (an `array` column means "contains"), `$in`, dotted (nested) fields, and the and/or/not that
 * CASL builds from several rules. Anything else throws: an unsupported rule must never widen a query.
 */

export interface SqlColumn {
  /** SQL expression, e.g. `c.ward_code`; written by the code, never from input. */
  readonly sql: string;
  /** The column is an array: equality means "the array contains the value". */
  readonly array?: boolean;
  /**
   * For an array column: the condition "the array contains one of the values of `param`" (an SQL array) written
   * another way than `sql && param`, e.g. driven from the table the array is read from, so that its index serves
   * it rather than the array being built for every row.
   */
  readonly containsSql?: (param: string) => string;
}

/** Subject field (dotted for nested ones, e.g. `referral.status`) → SQL column. */
export type ColumnMap = Readonly<Record<string, string | SqlColumn>>;

export interface SqlCondition {
  /** `TRUE`, `FALSE` or a condition with named parameters (`:name`), for TypeORM's QueryBuilder. */
  readonly sql: string;
  readonly params: Record<string, unknown>;
}

/**
 * Whether a condition names a column of one of these table aliases (`r` for `r.status`…): which joins a query
 * needs for it. Parameter names (`:p_0`) carry no dot, so only column references count.
 */
export function conditionUses(condition: SqlCondition, ...aliases: string[]): boolean {
  return new RegExp(`\\b(${aliases.join('|')})\\.`).test(condition.sql);
}

/**
 * Whether every column a condition names is one of these (`c.ward_code`…); true for `TRUE` and `FALSE`. Such a
 * condition holds alike for all rows that agree on those columns (e.g. a case list's total: case_counts).
 */
export function conditionNamesOnly(condition: Pick<SqlCondition, 'sql'>, ...columns: string[]): boolean {
  return [...condition.sql.matchAll(/\b\w+\.\w+\b/g)].every(([ref]) => columns.includes(ref));
}

/** Structural view of @ucast's condition tree (what rulesToAST returns). */
interface AstNode {
  readonly operator: string;
  readonly value: unknown;
  readonly field?: string;
}

export class UnsupportedConditionError extends Error {
  constructor(what: string) {
    super(`cannot translate CASL condition to SQL: ${what}`);
    this.name = 'UnsupportedConditionError';
  }
}

export const SQL_FALSE: SqlCondition = { sql: 'FALSE', params: {} };

/** The WHERE condition selecting exactly the rows of `subject` the ability allows for `action`. */
export function accessibleWhere(
  ability: AppAbility,
  action: Action,
  subject: SubjectName,
  columns: ColumnMap,
  paramPrefix = 'authz',
): SqlCondition {
  const ast = rulesToAST(ability, action, subject) as AstNode | null;
  if (ast === null) return SQL_FALSE; // no rule allows it
  return conditionToSql(ast, columns, paramPrefix);
}

/**
 * accessibleWhere as the conditions whose disjunction it is (the rules joined by `or`, each with parameters of
 * its own; one when there is no `or` at the top, none when no rule allows it): for a query that reads each from
 * where its index is (a UNION), where one OR across tables would have PostgreSQL scan them all.
 */
export function accessibleBranches(
  ability: AppAbility,
  action: Action,
  subject: SubjectName,
  columns: ColumnMap,
  paramPrefix = 'authz',
): SqlCondition[] {
  const ast = rulesToAST(ability, action, subject) as AstNode | null;
  if (ast === null) return [];
  if (ast.operator !== 'or') return [conditionToSql(ast, columns, paramPrefix)];
  return absorbed(asNodes(ast.value)).map((b, i) => conditionToSql(b, columns, `${paramPrefix}${i}`));
}

/** The disjunction of `conditions` (FALSE for none), their parameters together (their names are distinct). */
export function anyOf(conditions: readonly SqlCondition[]): SqlCondition {
  if (conditions.length === 0) return SQL_FALSE;
  if (conditions.length === 1) return conditions[0];
  return {
    sql: `(${conditions.map((c) => c.sql).join(' OR ')})`,
    params: Object.assign({}, ...conditions.map((c) => c.params)) as Record<string, unknown>,
  };
}

/** Translates one condition tree; exported for tests. */
export function conditionToSql(ast: AstNode, columns: ColumnMap, paramPrefix = 'authz'): SqlCondition {
  const params: Record<string, unknown> = {};
  let n = 0;
  const param = (value: unknown): string => {
    const name = `${paramPrefix}_${n++}`;
    params[name] = value;
    return `:${name}`;
  };

  const visit = (node: AstNode): string => {
    switch (node.operator) {
      case 'and':
      case 'or': {
        const operands = asNodes(node.value);
        const parts = (node.operator === 'or' ? absorbed(operands) : operands).map(visit);
        if (parts.length === 0) return node.operator === 'and' ? 'TRUE' : 'FALSE';
        return parts.length === 1 ? parts[0] : `(${parts.join(node.operator === 'and' ? ' AND ' : ' OR ')})`;
      }
      case 'not': {
        const inner = asNodes(node.value);
        if (inner.length !== 1) throw new UnsupportedConditionError('"not" with several operands');
        // NOT over a NULL comparison is NULL (row excluded): the safe side for an inverted rule.
        return `(NOT ${visit(inner[0])})`;
      }
      case 'eq': {
        const column = columnOf(node, columns);
        if (node.value === null) return `${column.sql} IS NULL`;
        scalar(node);
        // An array column: overlap with a one-element array, which a GIN index serves (`= ANY(column)` does
        // not: a provincial supervisor's log query scanned the whole log).
        return column.array ? contains(column, param([node.value])) : `${column.sql} = ${param(node.value)}`;
      }
      case 'in': {
        const column = columnOf(node, columns);
        if (!Array.isArray(node.value)) throw new UnsupportedConditionError('"$in" needs an array');
        if (node.value.length === 0) return 'FALSE';
        if (node.value.some((v) => v === null || typeof v === 'object')) {
          throw new UnsupportedConditionError('"$in" with null or object values');
        }
        if (column.array) return contains(column, param(node.value));
        // One value (a ward officer of one commune): equality, which lets PostgreSQL read an index on the
        // column in order (e.g. a commune's cases newest first) instead of fetching every match and sorting.
        if (node.value.length === 1) return `${column.sql} = ${param(node.value[0])}`;
        return `${column.sql} = ANY(${param(node.value)})`;
      }
      default:
        throw new UnsupportedConditionError(`operator "${node.operator}"`);
    }
  };

  const sql = visit(ast);
  return { sql, params };
}

/**
 * The operands of an `or` without those another operand implies: when every conjunct of A is also a conjunct
 * of B, B implies A and `A OR B` is A (absorption). CASL joins the rules of one action with `or`, and a rule
 * for some fields is often a narrower copy of the rule for all of them (a provider's referrals: all of its
 * organisation's, and the live ones for notes); without the narrower copy the condition is a plain equality
 * that an index can be read in order for. Conjuncts are compared structurally (operator, field, value).
 */
function absorbed(operands: AstNode[]): AstNode[] {
  const conjuncts = operands.map(
    (o) => new Set((o.operator === 'and' ? asNodes(o.value) : [o]).map((c) => JSON.stringify(c))),
  );
  const impliedByAnother = (b: number): boolean =>
    conjuncts.some(
      (a, i) =>
        i !== b &&
        [...a].every((c) => conjuncts[b].has(c)) &&
        // Of two operands with the same conjuncts, the first stays.
        (a.size < conjuncts[b].size || i < b),
    );
  return operands.filter((_, b) => !impliedByAnother(b));
}

/** An array column containing one of the values of `param`. */
function contains(column: SqlColumn, param: string): string {
  return `(${column.containsSql ? column.containsSql(param) : `${column.sql} && ${param}`})`;
}

function asNodes(value: unknown): AstNode[] {
  if (!Array.isArray(value)) throw new UnsupportedConditionError('compound condition without operands');
  return value as AstNode[];
}

function columnOf(node: AstNode, columns: ColumnMap): SqlColumn {
  if (!node.field) throw new UnsupportedConditionError(`"${node.operator}" without a field`);
  const column = columns[node.field];
  if (column === undefined) throw new UnsupportedConditionError(`no column for field "${node.field}"`);
  return typeof column === 'string' ? { sql: column } : column;
}

function scalar(node: AstNode): void {
  const t = typeof node.value;
  if (t !== 'string' && t !== 'number' && t !== 'boolean') {
    throw new UnsupportedConditionError(`equality on "${node.field}" with a non-scalar value`);
  }
}

/** Rewrites TypeORM-style `:name` parameters into positional `$n` ones for EntityManager.query. */
export function positional(condition: SqlCondition): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const sql = condition.sql.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => {
    if (!(name in condition.params)) throw new Error(`missing SQL parameter ${name}`);
    params.push(condition.params[name]);
    return `$${params.length}`;
  });
  return { sql, params };
}
