import { isIP } from 'node:net';
import { ACCEPTABLE_REQUEST_ID } from '../common/http/request-context';
import {
  AUDIT_ACTIONS,
  AUDIT_FIELD_CATEGORIES,
  AUDIT_OUTCOMES,
  AUDIT_RESOURCE_TYPES,
  AUDIT_ROLES,
  AuditActor,
  AuditEntryInput,
  AuditOutcome,
  AuditRequestMeta,
  AuditRow,
} from './audit.types';

/**
 * Keeps survivor data out of the access log: an entry may only carry enumerated words (actions, categories,
 * outcomes, roles), uuids, administrative codes, error codes and request metadata of a fixed shape. Anything
 * else - an unknown property, a name, a sentence - is refused before it reaches the database, and the access
 * it belonged to fails with it. Messages name the offending property, never its value.
 */
export class AuditEntryError extends Error {
  constructor(property: string, problem: string) {
    super(`access-log entry refused: ${property} ${problem}`);
    this.name = 'AuditEntryError';
  }
}

/** The validated, canonical values of an entry (everything but the chain columns and the jurisdictions). */
export type CheckedEntry = Omit<
  AuditRow,
  'seq' | 'stripe' | 'prevSeq' | 'atMs' | 'jurisdictions' | 'outcome'
> & {
  outcome: AuditOutcome;
  /** The actor's province (a supervisor's), for the entry's jurisdictions; not a column itself. */
  actorProvince: string | null;
  /** The actor's organisation's province as its request read it (null: look it up). */
  actorOrgProvince: string | null;
  /** The provinces of the account or organisation the entry is about, for its jurisdictions; not a column. */
  subjectProvinces: string[];
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROVINCE = /^[0-9]{2}$/;
const COMMUNE = /^[0-9]{5}$/;
const REASON = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const MAX_RETURNED_IDS = 1000;
const MAX_COMMUNES = 200;
const MAX_PROVINCES = 64;
const MAX_USER_AGENT = 256;
const PRODUCT_TOKEN = /^[A-Za-z][A-Za-z0-9._+-]{0,31}\/[0-9][A-Za-z0-9._+-]{0,23}$/;

const INPUT_KEYS: ReadonlySet<string> = new Set<keyof AuditEntryInput>([
  'action',
  'outcome',
  'resourceType',
  'resourceId',
  'caseId',
  'fields',
  'returnedIds',
  'provinceCode',
  'wardCode',
  'reason',
  'subjectProvinces',
  'request',
]);
const REQUEST_KEYS: ReadonlySet<string> = new Set<keyof AuditRequestMeta>(['ip', 'userAgent', 'requestId']);

const ACTIONS: ReadonlySet<string> = new Set(AUDIT_ACTIONS);
const RESOURCE_TYPES: ReadonlySet<string> = new Set(AUDIT_RESOURCE_TYPES);
const OUTCOMES: ReadonlySet<string> = new Set(AUDIT_OUTCOMES);
const CATEGORIES: ReadonlySet<string> = new Set(AUDIT_FIELD_CATEGORIES);
const ROLES: ReadonlySet<string> = new Set(AUDIT_ROLES);

export function checkAuditEntry(
  actor: AuditActor | null,
  input: AuditEntryInput,
  defaultOutcome: AuditOutcome,
  request: AuditRequestMeta,
): CheckedEntry {
  if (typeof input !== 'object' || input === null) throw new AuditEntryError('entry', 'is not an object');
  for (const key of Object.keys(input)) {
    if (!INPUT_KEYS.has(key)) throw new AuditEntryError(safeName(key), 'is not a property of an entry');
  }
  if (input.request !== undefined) {
    if (typeof input.request !== 'object' || input.request === null)
      throw new AuditEntryError('request', 'is not an object');
    for (const key of Object.keys(input.request)) {
      if (!REQUEST_KEYS.has(key))
        throw new AuditEntryError(`request.${safeName(key)}`, 'is not request metadata');
    }
  }
  const meta = { ...request, ...stripUndefined(input.request ?? {}) };

  return {
    actorId: actor ? uuid(actor.userId, 'actor.userId') : null,
    actorRole: actor ? member(actor.role, ROLES, 'actor.role') : null,
    actorOrgId: actor ? optional(actor.organizationId, (v) => uuid(v, 'actor.organizationId')) : null,
    actorCommunes: actor ? codes(actor.wardCodes ?? [], COMMUNE, 'actor.wardCodes', MAX_COMMUNES) : [],
    actorProvince: actor
      ? optional(actor.provinceCode, (v) => code(v, PROVINCE, 'actor.provinceCode'))
      : null,
    actorOrgProvince: actor
      ? optional(actor.organizationProvince, (v) => code(v, PROVINCE, 'actor.organizationProvince'))
      : null,
    action: member(input.action, ACTIONS, 'action'),
    resourceType: optional(input.resourceType, (v) => member(v, RESOURCE_TYPES, 'resourceType')),
    resourceId: optional(input.resourceId, (v) => uuid(v, 'resourceId')),
    caseId: optional(input.caseId, (v) => uuid(v, 'caseId')),
    fields: categories(input.fields ?? []),
    outcome: member(input.outcome ?? defaultOutcome, OUTCOMES, 'outcome') as AuditOutcome,
    reason: optional(input.reason, (v) => code(v, REASON, 'reason', 64)),
    ip: optional(meta.ip, (v) => ip(v)),
    userAgent: optional(meta.userAgent, (v) => userAgent(v)),
    requestId: optional(meta.requestId, (v) => code(v, ACCEPTABLE_REQUEST_ID, 'request.requestId')),
    returnedIds: ids(input.returnedIds ?? []),
    provinceCode: optional(input.provinceCode, (v) => code(v, PROVINCE, 'provinceCode')),
    communeCode: optional(input.wardCode, (v) => code(v, COMMUNE, 'wardCode')),
    subjectProvinces: codes(input.subjectProvinces ?? [], PROVINCE, 'subjectProvinces', MAX_PROVINCES),
  };
}

function optional<T>(value: T | null | undefined, check: (v: T) => string | null): string | null {
  return value === undefined || value === null ? null : check(value);
}

function member(value: unknown, allowed: ReadonlySet<string>, property: string): string {
  if (typeof value !== 'string' || !allowed.has(value))
    throw new AuditEntryError(property, 'is not an allowed value');
  return value;
}

function uuid(value: unknown, property: string): string {
  if (typeof value !== 'string') throw new AuditEntryError(property, 'is not a uuid');
  const lower = value.toLowerCase();
  if (!UUID.test(lower)) throw new AuditEntryError(property, 'is not a uuid');
  return lower;
}

function code(value: unknown, pattern: RegExp, property: string, max = 64): string {
  if (typeof value !== 'string' || value.length > max || !pattern.test(value))
    throw new AuditEntryError(property, 'is not a code of the expected shape');
  return value;
}

function codes(values: readonly unknown[], pattern: RegExp, property: string, max: number): string[] {
  if (!Array.isArray(values) || values.length > max)
    throw new AuditEntryError(property, 'is not a short list');
  return [...new Set(values.map((v) => code(v, pattern, property)))].sort();
}

function categories(values: readonly unknown[]): string[] {
  if (!Array.isArray(values)) throw new AuditEntryError('fields', 'is not a list');
  const set = new Set(values.map((v) => member(v, CATEGORIES, 'fields')));
  // Canonical order, so that the same disclosure always reads the same.
  return AUDIT_FIELD_CATEGORIES.filter((c) => set.has(c));
}

function ids(values: readonly unknown[]): string[] {
  if (!Array.isArray(values)) throw new AuditEntryError('returnedIds', 'is not a list');
  if (values.length > MAX_RETURNED_IDS)
    throw new AuditEntryError('returnedIds', `has more than ${MAX_RETURNED_IDS} ids (paginate)`);
  return values.map((v) => uuid(v, 'returnedIds'));
}

function ip(value: unknown): string {
  if (typeof value !== 'string' || value.length > 45 || isIP(value) === 0)
    throw new AuditEntryError('request.ip', 'is not an IP address');
  return value;
}

/**
 * A user agent is client-supplied text, so only its `product/version` tokens are kept (e.g.
 * `Mozilla/5.0 AppleWebKit/537.36 Chrome/131.0 Safari/537.36`): comments in parentheses and any other words
 * are dropped, so that nothing a client writes there can carry a sentence into the log, and so are tokens that
 * look personal (looksPersonal). A name shaped as a product (`Nguyen.Thi.Lan/1.0`) still passes: only an
 * allowlist of products would stop it.
 */
function userAgent(value: unknown): string | null {
  if (typeof value !== 'string') throw new AuditEntryError('request.userAgent', 'is not a string');
  const tokens = value
    .slice(0, 1024)
    .replace(/\([^)]*\)?/g, ' ')
    .split(/\s+/)
    .filter((t) => PRODUCT_TOKEN.test(t) && !looksPersonal(t))
    .slice(0, 8);
  const kept = tokens.join(' ').slice(0, MAX_USER_AGENT);
  return kept.length ? kept : null;
}

/**
 * A user-agent token that may be a person's: seven digits in a row (`Lan/0912345678`: no browser or app version
 * has them), a version that is a Vietnamese phone number once its dots and dashes are dropped (`Lan/0912.345.678`,
 * `Lan/84-912-345-678`: 0 or 84 and then 9 or 10 digits; `Chrome/84.0.4147.105` has 8 after its 84), or a date as
 * people write one (`Lan/05.03.2010`).
 */
function looksPersonal(token: string): boolean {
  const version = token.slice(token.indexOf('/') + 1);
  return (
    /[0-9]{7}/.test(token) ||
    /^(?:0|84)[0-9]{9,10}$/.test(version.replace(/[.-]/g, '')) ||
    /^[0-9]{1,2}[.-][0-9]{1,2}[.-](?:19|20)[0-9]{2}$/.test(version)
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A property name from the caller's object, shortened so that it cannot smuggle a value into the message. */
function safeName(key: string): string {
  return /^[A-Za-z][A-Za-z0-9]{0,31}$/.test(key) ? key : '(unnamed)';
}
