import { ValidationError } from 'class-validator';
import { LocalizedText } from './error-catalog';
import { DomainError, FieldError } from './domain-error';

// Messages are written here rather than taken from class-validator so that they never quote submitted
// values and exist in Vietnamese too.
const MESSAGES: Record<string, LocalizedText> = {
  whitelistValidation: { en: 'is not an allowed field', vi: 'là trường không được phép' },
  isDefined: { en: 'is required', vi: 'là bắt buộc' },
  isNotEmpty: { en: 'must not be empty', vi: 'không được để trống' },
  isString: { en: 'must be a string', vi: 'phải là chuỗi ký tự' },
  isInt: { en: 'must be an integer', vi: 'phải là số nguyên' },
  isNumber: { en: 'must be a number', vi: 'phải là số' },
  isBoolean: { en: 'must be true or false', vi: 'phải là true hoặc false' },
  isIn: { en: 'is not one of the allowed values', vi: 'không thuộc các giá trị cho phép' },
  isEnum: { en: 'is not one of the allowed values', vi: 'không thuộc các giá trị cho phép' },
  isUuid: { en: 'must be a UUID', vi: 'phải là UUID' },
  isISO8601: { en: 'must be an ISO 8601 date', vi: 'phải là ngày theo ISO 8601' },
  isDateString: { en: 'must be an ISO 8601 date', vi: 'phải là ngày theo ISO 8601' },
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
};
const FALLBACK: LocalizedText = { en: 'is not valid', vi: 'không hợp lệ' };
const MAX_FIELD_PATH = 100;

export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = (parent ? `${parent}.${e.property}` : e.property).slice(0, MAX_FIELD_PATH);
    for (const code of Object.keys(e.constraints ?? {})) {
      out.push({ field, code, message: MESSAGES[code] ?? FALLBACK });
    }
    if (e.children?.length) out.push(...flattenValidationErrors(e.children, field));
  }
  return out;
}

export function validationException(errors: ValidationError[]): DomainError {
  return new DomainError('request.validation', undefined, flattenValidationErrors(errors));
}
