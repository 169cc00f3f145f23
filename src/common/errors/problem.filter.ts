import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { requestIdOf } from '../http/request-context';
import {
  isDatabaseUnavailable,
  isKekFloorRefusal,
  isStatementCancelled,
  isTransientRefusal,
} from '../../database/pg-errors';
import { CryptoError } from '../../crypto/crypto.errors';
import { DomainError } from './domain-error';
import { TransientError } from './transient-error';
import { CASE_SHREDDED, ERROR_CATALOG, ErrorCode, LocalizedText } from './error-catalog';
import { MAX_FIELD_ERRORS, Problem, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE } from './problem';

const DEFAULT_DETAIL: Partial<Record<ErrorCode, LocalizedText>> = {
  'request.validation': {
    en: 'See errors for the fields to correct.',
    vi: 'Xem errors để biết các trường cần sửa.',
  },
  'route.not_found': { en: 'No route matches this method and path.', vi: 'Không có đường dẫn phù hợp.' },
  'resource.not_found': {
    en: 'The record does not exist or is not available to you.',
    vi: 'Bản ghi không tồn tại hoặc bạn không có quyền truy cập.',
  },
  internal: {
    en: 'An unexpected error occurred. Quote the request id when reporting it.',
    vi: 'Đã xảy ra lỗi không mong muốn. Vui lòng cung cấp mã yêu cầu khi báo lỗi.',
  },
  'service.unavailable': {
    en: 'A component the service depends on is not answering. Try again shortly.',
    vi: 'Một thành phần của hệ thống không phản hồi. Vui lòng thử lại sau.',
  },
};

const SOME_FIELDS: LocalizedText = {
  en: `See errors for the first ${MAX_FIELD_ERRORS} fields to correct; errorsOmitted counts the others.`,
  vi: `Xem errors để biết ${MAX_FIELD_ERRORS} trường đầu tiên cần sửa; errorsOmitted là số trường còn lại.`,
};

const TRY_AGAIN: LocalizedText = {
  en: 'The request met another one that changed the same data at the same moment, or the database is busy. Nothing was changed: try again.',
  vi: 'Yêu cầu bị xung đột với một yêu cầu khác đang thay đổi cùng dữ liệu, hoặc cơ sở dữ liệu đang bận. Không có thay đổi nào được lưu: vui lòng thử lại.',
};

/**
 * Turns every error into an RFC 9457 problem response. Submitted values, stack traces and SQL never reach
 * the body: text comes only from the catalogue and from DomainError details written by the code.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    this.respond(exception, http.getRequest<Request>(), http.getResponse<Response>());
  }

  /** Also used as the Express error handler for failures raised before Nest routing (body parsing). */
  respond(exception: unknown, req: Request, res: Response): void {
    const { code, detail, errors, retryAfterSeconds } = this.classify(exception);
    const lang = prefersVietnamese(req) ? 'vi' : 'en';
    const entry = ERROR_CATALOG[code];
    const requestId = requestIdOf(req);

    if (exception instanceof DomainError && code === 'service.unavailable') {
      // Refused on purpose (sign-ins shed under a flood, a database that takes no writes, or none that answers
      // the health check): the request's own line says so, at warn (http-logger), without this error's stack, so
      // that a flood of them does not bury real failures at error level; what caused it, when there was a cause
      // (the driver's error), in a line of its own.
      if (exception.cause !== undefined) {
        this.logger.warn({ requestId, code, err: exception.cause }, 'request refused: service unavailable');
      }
    } else if (entry.status >= 500) {
      // The stack and driver message go to the log only (they may quote SQL, never survivor values:
      // statements are parameterised).
      this.logger.error({ err: exception, requestId, code }, 'request failed');
    }

    const omitted = Math.max(0, (errors?.length ?? 0) - MAX_FIELD_ERRORS);
    const body: Problem = {
      type: `${PROBLEM_TYPE_BASE}${code}`,
      title: entry.title[lang],
      status: entry.status,
      detail: (detail ??
        (errors?.length ? undefined : NO_FIELDS[code]) ??
        (omitted > 0 ? SOME_FIELDS : undefined) ??
        DEFAULT_DETAIL[code] ??
        entry.title)[lang],
      code,
      requestId,
      ...(errors?.length
        ? {
            errors: errors
              .slice(0, MAX_FIELD_ERRORS)
              .map((e) => ({ field: e.field, code: e.code, message: e.message[lang] })),
          }
        : {}),
      ...(omitted > 0 ? { errorsOmitted: omitted } : {}),
    };
    // Failed after its answer began (a stream that broke): nothing can be said any more; the connection is cut
    // so that the client sees an answer cut short, rather than wait for the rest of it.
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    res
      .status(entry.status)
      .setHeader('Content-Type', PROBLEM_CONTENT_TYPE)
      .setHeader('Content-Language', lang);
    // Every 401 carries a challenge (RFC 9110): the scheme that opens the API, a sign-in's refusals included.
    if (entry.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    // Every 503 says when to try again (a passing contention: 1 s; a database down or keys out of date: longer).
    const retry =
      retryAfterSeconds ?? (code === 'service.unavailable' ? UNAVAILABLE_RETRY_SECONDS : undefined);
    if (retry !== undefined && retry > 0) {
      res.setHeader('Retry-After', String(Math.ceil(retry)));
    }
    res.send(JSON.stringify(body));
  }

  private classify(
    exception: unknown,
  ): Pick<DomainError, 'code' | 'detail' | 'errors' | 'retryAfterSeconds'> {
    if (exception instanceof DomainError) return exception;
    const bodyParserType = (exception as { type?: unknown } | null)?.type;
    if (typeof bodyParserType === 'string' && Object.hasOwn(BODY_PARSER_ERRORS, bodyParserType)) {
      return { code: BODY_PARSER_ERRORS[bodyParserType] };
    }
    // Any other client error of the body parser (http-errors marks them `expose`), e.g. a body that is not the
    // gzip its Content-Encoding says: the zlib error comes wrapped, without a type.
    const { status, expose } = (exception ?? {}) as { status?: unknown; expose?: unknown };
    if (
      !(exception instanceof HttpException) &&
      expose === true &&
      typeof status === 'number' &&
      status >= 400 &&
      status < 500
    ) {
      return { code: STATUS_TO_CODE[status] ?? 'request.validation' };
    }
    // A path whose percent-encoding cannot be decoded (`/cases/%E0`): Express refuses it while matching routes,
    // before any guard runs. It names no route, and answers as a path that matches none does (404, signed in
    // or not), never a 400 about a body.
    if (exception instanceof HttpException && exception.cause instanceof URIError) {
      return { code: 'route.not_found' };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      // Nest raises NotFoundException for unmatched routes; handlers raise DomainError instead.
      if (status === 404) return { code: 'route.not_found' };
      const mapped = STATUS_TO_CODE[status];
      if (mapped) return { code: mapped };
      if (status >= 400 && status < 500) return { code: 'request.validation' };
      return { code: 'internal' };
    }
    if (isDatabaseUnavailable(exception)) return { code: 'service.unavailable' };
    // Stopped at the statement timeout (or by an operator): the same request would take as long again.
    if (isStatementCancelled(exception)) {
      return { code: 'service.unavailable', detail: TOO_LONG, retryAfterSeconds: TOO_LONG_RETRY_SECONDS };
    }
    if (isTransientRefusal(exception) || exception instanceof TransientError) {
      return { code: 'service.unavailable', detail: TRY_AGAIN, retryAfterSeconds: 1 };
    }
    if (isKekFloorRefusal(exception)) return { code: 'service.unavailable', detail: KEYS_OUT_OF_DATE };
    if (exception instanceof CryptoError && exception.code === 'crypto.kek_mismatch') {
      return { code: 'service.unavailable', detail: KEYS_MISMATCHED };
    }
    // A data key wrapped with a KEK version this instance's keyring lacks: its keys are behind the others'.
    if (exception instanceof CryptoError && exception.code === 'crypto.unknown_kek') {
      return { code: 'service.unavailable', detail: KEYS_BEHIND };
    }
    // Something to encrypt or read with the data key of a crypto-shredded case: its content is gone for good.
    if (exception instanceof CryptoError && exception.code === 'crypto.key_destroyed') {
      return { code: 'conflict.state', detail: CASE_SHREDDED };
    }
    return { code: 'internal' };
  }
}

/** A request stopped at the statement timeout: nothing was changed; a narrower one may go through. */
const TOO_LONG: LocalizedText = {
  en: 'The request took too long and was stopped; nothing was changed. Ask for less at once (a shorter period, a smaller area, an earlier page), or try again later.',
  vi: 'Yêu cầu mất quá nhiều thời gian nên đã bị dừng; không có thay đổi nào được lưu. Hãy yêu cầu ít dữ liệu hơn mỗi lần (khoảng thời gian ngắn hơn, phạm vi nhỏ hơn, trang trước đó), hoặc thử lại sau.',
};
const TOO_LONG_RETRY_SECONDS = 30;

/** When to try again after a 503 that names no sooner moment (the database down, this instance's keys behind). */
const UNAVAILABLE_RETRY_SECONDS = 5;

/** The detail of a refusal that names no field (`errors[]` absent): the request as a whole could not be read. */
const NO_FIELDS: Partial<Record<ErrorCode, LocalizedText>> = {
  'request.validation': {
    en: 'The request could not be read: send a JSON object with the fields this route takes, whole.',
    vi: 'Không đọc được yêu cầu: hãy gửi đầy đủ một đối tượng JSON với các trường mà đường dẫn này nhận.',
  },
};

/**
 * The body parser's refusals (body-parser's `type`s), each a client's error: an unknown charset or content
 * encoding, a length that does not match, a body that stopped coming. Anything else from it stays a 500.
 */
const BODY_PARSER_ERRORS: Readonly<Record<string, ErrorCode>> = {
  'entity.parse.failed': 'request.malformed_json',
  'entity.too.large': 'request.too_large',
  'charset.unsupported': 'request.unsupported_media_type',
  'encoding.unsupported': 'request.unsupported_media_type',
  'request.size.invalid': 'request.validation',
  'request.aborted': 'request.validation',
};

/** A data key wrapped with a KEK version this instance's keyring lacks (crypto.unknown_kek): not opened. */
const KEYS_BEHIND: LocalizedText = {
  en: 'This record cannot be read on this server right now: its keys are out of date. Try again shortly; if it persists, tell your administrator.',
  vi: 'Máy chủ này tạm thời không thể đọc bản ghi này vì khóa mã hóa chưa được cập nhật. Vui lòng thử lại sau; nếu vẫn lỗi, hãy báo quản trị viên.',
};

/** A registration refused by the KEK floor: nothing was written; the logged error names the versions. */
const KEYS_OUT_OF_DATE: LocalizedText = {
  en: 'New records cannot be encrypted on this server right now: its keys are out of date. Try again shortly; if it persists, tell your administrator.',
  vi: 'Máy chủ này tạm thời không thể mã hóa bản ghi mới vì khóa mã hóa chưa được cập nhật. Vui lòng thử lại sau; nếu vẫn lỗi, hãy báo quản trị viên.',
};

/**
 * A data key refused before it was wrapped: this instance holds another key under the active KEK version than
 * the database knows (KekChecks). Nothing was written; the logged error names the version.
 */
const KEYS_MISMATCHED: LocalizedText = {
  en: "New records cannot be encrypted on this server: its keys do not match the other servers' keys. Tell your administrator.",
  vi: 'Máy chủ này không thể mã hóa bản ghi mới vì khóa mã hóa của nó không khớp với khóa của các máy chủ khác. Hãy báo quản trị viên.',
};

const STATUS_TO_CODE: Partial<Record<number, ErrorCode>> = {
  400: 'request.validation',
  401: 'auth.unauthenticated',
  403: 'auth.forbidden',
  409: 'conflict.state',
  412: 'precondition.failed',
  413: 'request.too_large',
  415: 'request.unsupported_media_type',
  422: 'unprocessable',
  429: 'auth.throttled',
  503: 'service.unavailable',
};

function prefersVietnamese(req: Request): boolean {
  const header = req.headers['accept-language'];
  if (typeof header !== 'string') return false;
  // First listed language wins; q-values are honoured for the two languages we speak.
  const langs = header
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag ?? '', q: q ? Number.parseFloat(q.slice(2)) || 0 : 1 };
    })
    .filter((l) => l.tag.startsWith('vi') || l.tag.startsWith('en'))
    .sort((a, b) => b.q - a.q);
  return langs[0]?.tag.startsWith('vi') ?? false;
}
