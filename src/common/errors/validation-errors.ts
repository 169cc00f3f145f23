import { ValidationError } from 'class-validator';
import { validatedClasses } from '../http/validation-metadata';
import { LocalizedText } from './error-catalog';
import { DomainError, FieldError } from './domain-error';

// Messages are written here rather than taken from class-validator so that they never quote submitted
// values and exist in Vietnamese too.
const MESSAGES: Record<string, LocalizedText> = {
  whitelistValidation: { en: 'is not an allowed field', vi: 'là trường không được phép' },
  isDefined: { en: 'is required', vi: 'là bắt buộc' },
  isNotBlank: { en: 'must not be blank', vi: 'không được để trống' },
  isNotNull: {
    en: 'must not be null (leave it out to keep the value)',
    vi: 'không được là null (không gửi trường này nếu muốn giữ nguyên giá trị)',
  },
  isNotEmpty: { en: 'must not be empty', vi: 'không được để trống' },
  isString: { en: 'must be a string', vi: 'phải là chuỗi ký tự' },
  isInt: { en: 'must be an integer', vi: 'phải là số nguyên' },
  isNumber: { en: 'must be a number', vi: 'phải là số' },
  isBoolean: { en: 'must be true or false', vi: 'phải là true hoặc false' },
  isIn: { en: 'is not one of the allowed values', vi: 'không thuộc các giá trị cho phép' },
  isEnum: { en: 'is not one of the allowed values', vi: 'không thuộc các giá trị cho phép' },
  isUuid: { en: 'must be a UUID', vi: 'phải là UUID' },
  isCalendarDate: {
    en: 'must be a date that exists, YYYY-MM-DD',
    vi: 'phải là ngày có thật, dạng YYYY-MM-DD',
  },
  isInstant: {
    en: 'must be a date and time with its offset, e.g. 2026-11-23T08:30:00+07:00',
    vi: 'phải là ngày giờ kèm độ lệch múi giờ, ví dụ 2026-11-23T08:30:00+07:00',
  },
  isDateOrInstant: {
    en: 'must be a date (YYYY-MM-DD) or a date and time with its offset (2026-11-23T08:30:00+07:00)',
    vi: 'phải là ngày (YYYY-MM-DD) hoặc ngày giờ kèm độ lệch múi giờ (2026-11-23T08:30:00+07:00)',
  },
  isArray: { en: 'must be an array', vi: 'phải là mảng' },
  arrayNotEmpty: { en: 'must not be empty', vi: 'không được để trống' },
  arrayMinSize: { en: 'has too few items', vi: 'có quá ít phần tử' },
  arrayMaxSize: { en: 'has too many items', vi: 'có quá nhiều phần tử' },
  arrayUnique: { en: 'must not repeat items', vi: 'không được có phần tử trùng' },
  maxLength: { en: 'is too long', vi: 'quá dài' },
  minLength: { en: 'is too short', vi: 'quá ngắn' },
  min: { en: 'is too small', vi: 'quá nhỏ' },
  max: { en: 'is too large', vi: 'quá lớn' },
  matches: { en: 'has the wrong format', vi: 'sai định dạng' },
  isObject: { en: 'must be an object', vi: 'phải là đối tượng' },
  nestedValidation: { en: 'must be an object', vi: 'phải là đối tượng' },
  unknownValue: { en: 'must be an object', vi: 'phải là đối tượng' },
  equals: { en: 'has a value this field does not take', vi: 'có giá trị mà trường này không nhận' },
};
const FALLBACK: LocalizedText = { en: 'is not valid', vi: 'không hợp lệ' };

const items = (n: number) => (n === 1 ? '1 item' : `${n} items`);
const characters = (n: number) => (n === 1 ? '1 character' : `${n} characters`);

/** The messages of the constraints with a bound, saying it (the bound is the decorator's: annotateBounds). */
const BOUNDED: Record<string, (n: number) => LocalizedText> = {
  arrayMinSize: (n) => ({ en: `must have at least ${items(n)}`, vi: `phải có ít nhất ${n} phần tử` }),
  arrayMaxSize: (n) => ({ en: `must have at most ${items(n)}`, vi: `không được có quá ${n} phần tử` }),
  maxLength: (n) => ({ en: `must be at most ${characters(n)} long`, vi: `không được dài quá ${n} ký tự` }),
  minLength: (n) => ({ en: `must be at least ${characters(n)} long`, vi: `phải dài ít nhất ${n} ký tự` }),
  min: (n) => ({ en: `must be at least ${n}`, vi: `không được nhỏ hơn ${n}` }),
  max: (n) => ({ en: `must be at most ${n}`, vi: `không được lớn hơn ${n}` }),
};

/**
 * What a field's refusal says first: that it is missing or null (PRESENCE), else that it is not of its type
 * (TYPE_CHECKS); where one of these fails, the field's other constraints (a type, a length, a bound, a format)
 * say nothing true of it (`year=abc` is neither too small nor too large; a null is not "not an integer"), so
 * only it is reported.
 */
const PRESENCE = new Set(['isDefined', 'isNotNull']);
const TYPE_CHECKS = new Set(['isString', 'isInt', 'isNumber', 'isBoolean', 'isArray', 'isObject']);

/** The context key under which a constraint's bound travels to its error (annotateBounds). */
const BOUND = 'havenBound';

/**
 * Gives each bounded constraint of every validated class (min, max, lengths, list sizes) its bound as its
 * context, which class-validator hands to the error, so that a refusal can say it ("must be at most 2100"):
 * the error itself carries only class-validator's English message. Idempotent; run before the app serves
 * (createHavenApp). A constraint with a context of its own is left as it is.
 */
export function annotateBounds(): void {
  for (const metadatas of validatedClasses().values()) {
    for (const m of metadatas) {
      const bound: unknown = m.constraints?.[0];
      if (m.name && Object.hasOwn(BOUNDED, m.name) && typeof bound === 'number' && m.context === undefined) {
        m.context = { [BOUND]: bound };
      }
    }
  }
}

/** Whether a constraint's failures get a message of their own (not FALLBACK's). */
export function hasOwnMessage(constraint: string): boolean {
  return Object.hasOwn(MESSAGES, constraint);
}
const MAX_FIELD_PATH = 100;
/** A property name as a client's code would write it, or an array index. */
const PLAIN_NAME = /^(?:[A-Za-z][A-Za-z0-9_]{0,63}|\d{1,6})$/;
/**
 * The field and parameter names the API's OpenAPI document shows (every DTO's, a view's `id` or `triage`), filled
 * by createHavenApp: public, so a problem may name them. Before an app is made, none (every unknown key is `?`).
 */
const publicNames = new Set<string>();

/** Adds names the API's OpenAPI document shows (createHavenApp). */
export function declarePublicFieldNames(names: Iterable<string>): void {
  for (const name of names) if (PLAIN_NAME.test(name)) publicNames.add(name);
}

/**
 * What a problem calls a property it names: a property the DTO declares (any constraint but the whitelist's) or
 * an array index as itself (never refused as unknown); a key refused as unknown only when the API's document shows its name (a misplaced
 * `version`, a view's `id`), else `?`. An unknown key is echoed back in `errors[]`, and a client
 * that keys an object by a person's name or phone (`NguyenThiLan`, `Lan_0912345678`) would otherwise get them
 * back in an error body (and wherever it logs those).
 */
function shownName(e: ValidationError): string {
  const { property } = e;
  // class-validator's unknownValue error (an object no constraint covers) has no property at all.
  if (typeof property !== 'string') return '?';
  // A key refused as unknown (whitelistValidation) is the client's: named only when the API shows that name. Any
  // other constraint's property is one the DTO declares.
  // A key of digits alone is an array's index, named as itself, unless refused as unknown: then it is the
  // client's key (`"120590"`, a date of birth as ddmmyy) and no field of the API has such a name.
  const known = e.constraints?.whitelistValidation === undefined || publicNames.has(property);
  return PLAIN_NAME.test(property) && known ? property : '?';
}

export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const name = shownName(e);
    const field = (parent ? `${parent}.${name}` : name).slice(0, MAX_FIELD_PATH);
    const codes = Object.keys(e.constraints ?? {});
    const first = [PRESENCE, TYPE_CHECKS]
      .map((kind) => codes.filter((c) => kind.has(c)))
      .find((c) => c.length);
    for (const code of first ?? codes) {
      const bound = (e.contexts?.[code] as Record<string, unknown> | undefined)?.[BOUND];
      const message =
        typeof bound === 'number' && Object.hasOwn(BOUNDED, code) ? BOUNDED[code](bound) : MESSAGES[code];
      out.push({ field, code, message: message ?? FALLBACK });
    }
    if (e.children?.length) out.push(...flattenValidationErrors(e.children, field));
  }
  return out;
}

export function validationException(errors: ValidationError[]): DomainError {
  return new DomainError('request.validation', undefined, flattenValidationErrors(errors));
}
