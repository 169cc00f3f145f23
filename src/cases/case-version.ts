import { DomainError } from '../common/errors/domain-error';
import { ifMatchVersion } from '../common/http/if-match';

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
