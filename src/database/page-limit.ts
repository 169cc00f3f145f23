import { fieldError } from '../common/errors/domain-error';

/** The LIMITs a page size is rounded up to; the largest is PageQueryDto's maximum page size. */
export const PAGE_LIMIT_STEPS = [10, 20, 50, 100, 200] as const;

/**
 * How many rows a page may skip: pages reach the first 10,000 rows of a list (and the page holding the
 * 10,000th). An OFFSET reads and drops every row it skips, so a page a million rows deep held a connection for
 * seconds (until the statement timeout) and ten of them starved the pool; lists are narrowed by their filters,
 * and the access log is walked further with `beforeSeq` (keyset).
 */
export const MAX_PAGE_OFFSET = 10_000;

/**
 * The rows page `page` (from 1) of `pageSize` rows skips; a 400 on `page` past MAX_PAGE_OFFSET, with `how` (in
 * English and Vietnamese) to reach further rows.
 */
export function pageOffset(
  page: number,
  pageSize: number,
  how: { en: string; vi: string } = NARROW_THE_LIST,
): number {
  const offset = (page - 1) * pageSize;
  if (offset > MAX_PAGE_OFFSET) {
    const last = Math.floor(MAX_PAGE_OFFSET / pageSize) + 1;
    throw fieldError(
      'page',
      `pages reach the first ${MAX_PAGE_OFFSET} entries of a list only (with pageSize ${pageSize}, page ${last} at most): ${how.en}`,
      `chỉ xem được ${MAX_PAGE_OFFSET} mục đầu tiên của danh sách (với pageSize ${pageSize}, tối đa trang ${last}): ${how.vi}`,
    );
  }
  return offset;
}

/** What a list with filters says to reach past MAX_PAGE_OFFSET. */
const NARROW_THE_LIST = {
  en: 'narrow the list with its filters',
  vi: 'hãy thu hẹp danh sách bằng các bộ lọc',
};

/**
 * The LIMIT to write into a page's statement for `pageSize` rows: the smallest step that holds them. The
 * caller drops the rows past its page size.
 */
export function pageLimit(pageSize: number): number {
  const step = PAGE_LIMIT_STEPS.find((s) => s >= pageSize);
  if (step === undefined || !Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`page size must be an integer from 1 to ${PAGE_LIMIT_STEPS.at(-1)}: ${pageSize}`);
  }
  return step;
}

/** A page's clause for a statement, the parameters it binds, and the page taken from the statement's rows. */
export interface PageWindow {
  readonly sql: string;
  readonly params: number[];
  /** The page: the first `pageSize` of the rows the statement returned (its LIMIT is a step, maybe more). */
  page<T>(rows: T[]): T[];
}

/**
 * The `LIMIT … [OFFSET …]` of page `page` (from 1) of `pageSize` rows, and the parameter it binds (numbered
 * `param`); past MAX_PAGE_OFFSET, a 400 (see pageOffset). The statement's rows go through `page()`.
 *
 * The LIMIT is written into the text (a step of pageLimit), and the first page, asked for most, has no OFFSET:
 * PostgreSQL plans a LIMIT or OFFSET it only knows as a parameter for a tenth of the rows in scope, so the plan
 * it could keep for a prepared statement looks dearer than one made for the values, and it plans the statement
 * again on every execution. Found with pg_stat_statements on a kept benchmark cluster: the provider inbox's
 * list spent 1.0 ms planning per call (running: ~1.6 ms), the case list 0.24 ms (running: 0.23 ms). Pages
 * after the first still bind their OFFSET (and are planned per call); the steps keep the texts few.
 */
export function pageWindow(
  page: number,
  pageSize: number,
  param: number,
  how: { en: string; vi: string } = NARROW_THE_LIST,
): PageWindow {
  if (!Number.isInteger(page) || page < 1) throw new RangeError(`page must be an integer from 1: ${page}`);
  const limit = `LIMIT ${pageLimit(pageSize)}`;
  const offset = pageOffset(page, pageSize, how);
  const take = <T>(rows: T[]): T[] => rows.slice(0, pageSize);
  return page === 1
    ? { sql: limit, params: [], page: take }
    : { sql: `${limit} OFFSET $${param}`, params: [offset], page: take };
}
