import { decimalInteger } from '../common/http/query-integer';
import { DomainError } from '../common/errors/domain-error';
import type { LocalizedText } from '../common/errors/error-catalog';

/** The largest version a case can have (its column is a PostgreSQL int). */
export const MAX_CASE_VERSION = 2_147_483_647;

/**
 * The case version an If-Match header names: `"7"` or `7` (also `W/"7"`: weak tags are taken as the version
 * they name, a departure from RFC 9110's strong comparison that costs nothing while no ETag is issued);
 * undefined without the header (or an empty one), and for a bare `*` (RFC 9110: any current version, so none in
 * particular). Anything else is a 412: it can never match. That includes `""`, `W/""` and a quoted `"*"`, which
 * are entity-tags no case has (not "no precondition": a close or a shred must not go ahead on them).
 */
export function ifMatchVersion(
  ifMatch: string | undefined,
  what: LocalizedText = { en: 'the case version', vi: 'phiên bản của vụ việc' },
): number | undefined {
  const header = ifMatch?.trim();
  if (!header || header === '*') return undefined;
  const tag = /^(?:W\/)?"([^"]*)"$/.exec(header);
  const version = decimalInteger(tag ? tag[1] : header);
  if (version === undefined || version < 1 || version > MAX_CASE_VERSION) {
    throw new DomainError('precondition.failed', {
      en: `If-Match must be ${what.en}.`,
      vi: `If-Match phải là ${what.vi}.`,
    });
  }
  return version;
}

/**
 * The version a change names, from If-Match or else the body; a change must name one (412 without), and when it
 * names two they must agree (412: a client sending a fresh header with a stale body, or the reverse, would
 * otherwise overwrite a change it never saw).
 */
export function expectedVersion(bodyVersion: number | undefined, ifMatch: string | undefined): number {
  const header = ifMatchVersion(ifMatch);
  if (header !== undefined && bodyVersion !== undefined && header !== bodyVersion) {
    throw new DomainError('precondition.failed', {
      en: `If-Match names version ${header} and the body version ${bodyVersion}: send the one you read.`,
      vi: `If-Match ghi phiên bản ${header} còn nội dung ghi phiên bản ${bodyVersion}: vui lòng gửi phiên bản đã đọc.`,
    });
  }
  const v = header ?? bodyVersion;
  if (v === undefined) {
    throw new DomainError('precondition.failed', {
      en: 'Send the version you read, as If-Match or in the body.',
      vi: 'Vui lòng gửi phiên bản đã đọc qua If-Match hoặc trong nội dung.',
    });
  }
  return v;
}
