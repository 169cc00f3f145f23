/**
 * Every coded error Haven raises, with its HTTP status and a title in English and Vietnamese.
 * The catalogue is a Record over the ErrorCode union: adding a code without mapping it fails to compile.
 */
export type ErrorCode =
  | 'request.validation'
  | 'request.malformed_json'
  | 'request.too_large'
  | 'request.unsupported_media_type'
  | 'route.not_found'
  | 'resource.not_found'
  | 'auth.unauthenticated'
  | 'auth.forbidden'
  | 'auth.throttled'
  | 'auth.invalid_credentials'
  | 'auth.totp_required'
  | 'auth.totp_invalid'
  | 'auth.totp_locked'
  | 'auth.totp_enrollment_required'
  | 'auth.reauthentication_failed'
  | 'auth.reauthentication_code_required'
  | 'auth.step_up_required'
  | 'auth.password_change_required'
  | 'user.password_weak'
  | 'user.username_taken'
  | 'organization.name_taken'
  | 'conflict.state'
  | 'conflict.version'
  | 'precondition.failed'
  | 'unprocessable'
  | 'service.unavailable'
  | 'audit.checkpoint_refused'
  | 'internal';

export interface LocalizedText {
  en: string;
  vi: string;
}

export interface ErrorCatalogEntry {
  status: number;
  title: LocalizedText;
}

export const ERROR_CATALOG: Record<ErrorCode, ErrorCatalogEntry> = {
  'request.validation': {
    status: 400,
    title: { en: 'The request is not valid', vi: 'Yêu cầu không hợp lệ' },
  },
  'request.malformed_json': {
    status: 400,
    title: { en: 'The request body is not valid JSON', vi: 'Nội dung yêu cầu không phải JSON hợp lệ' },
  },
  'request.too_large': {
    status: 413,
    title: { en: 'The request body is too large', vi: 'Nội dung yêu cầu quá lớn' },
  },
  'request.unsupported_media_type': {
    status: 415,
    title: {
      en: 'The request body must be application/json',
      vi: 'Nội dung yêu cầu phải ở định dạng application/json',
    },
  },
  'route.not_found': {
    status: 404,
    title: { en: 'No such route', vi: 'Không tìm thấy đường dẫn' },
  },
  'resource.not_found': {
    status: 404,
    title: { en: 'Not found', vi: 'Không tìm thấy' },
  },
  'auth.unauthenticated': {
    status: 401,
    title: { en: 'Authentication required', vi: 'Cần đăng nhập' },
  },
  'auth.forbidden': {
    status: 403,
    title: { en: 'Not allowed', vi: 'Không được phép' },
  },
  'auth.throttled': {
    status: 429,
    title: { en: 'Too many attempts; try again later', vi: 'Quá nhiều lần thử; vui lòng thử lại sau' },
  },
  'auth.invalid_credentials': {
    status: 401,
    title: { en: 'Wrong username or password', vi: 'Sai tên đăng nhập hoặc mật khẩu' },
  },
  'auth.totp_required': {
    status: 401,
    title: {
      en: 'A code from your authenticator app is required',
      vi: 'Cần nhập mã từ ứng dụng xác thực',
    },
  },
  'auth.totp_invalid': {
    status: 422,
    title: { en: 'The authenticator code is not valid', vi: 'Mã xác thực không hợp lệ' },
  },
  'auth.totp_locked': {
    // A lock, answered as the contract answers a locked sign-in (429); no Retry-After: it lasts until an
    // administrator resets the account's two-factor.
    status: 429,
    title: {
      en: 'Too many wrong authenticator codes in a row: ask an administrator to reset your password and two-factor authentication',
      vi: 'Nhập sai mã xác thực quá nhiều lần liên tiếp: hãy đề nghị quản trị viên đặt lại mật khẩu và xác thực hai lớp của bạn',
    },
  },
  'auth.totp_enrollment_required': {
    status: 403,
    title: {
      en: 'Set up two-factor authentication before using Haven',
      vi: 'Cần thiết lập xác thực hai lớp trước khi sử dụng Haven',
    },
  },
  'auth.reauthentication_failed': {
    status: 403,
    title: {
      en: 'The password or the authenticator code is not correct',
      vi: 'Mật khẩu hoặc mã xác thực không đúng',
    },
  },
  'auth.step_up_required': {
    status: 403,
    title: {
      en: 'Confirm it is you first: POST /api/v1/auth/step-up with your password (and a new authenticator code); it lasts 10 minutes',
      vi: 'Hãy xác nhận lại danh tính trước: POST /api/v1/auth/step-up với mật khẩu (và mã xác thực mới); có hiệu lực 10 phút',
    },
  },
  'auth.reauthentication_code_required': {
    status: 403,
    title: {
      en: 'Confirm with a new code from your authenticator app as well as your password',
      vi: 'Cần xác nhận bằng mã mới từ ứng dụng xác thực cùng với mật khẩu',
    },
  },
  'auth.password_change_required': {
    status: 403,
    title: {
      en: 'Choose a new password before using Haven',
      vi: 'Cần đặt mật khẩu mới trước khi sử dụng Haven',
    },
  },
  'user.password_weak': {
    status: 422,
    title: {
      en: 'The password is too short or too common',
      vi: 'Mật khẩu quá ngắn hoặc quá phổ biến',
    },
  },
  'user.username_taken': {
    status: 409,
    title: { en: 'This username is already in use', vi: 'Tên đăng nhập đã được sử dụng' },
  },
  'organization.name_taken': {
    status: 409,
    title: {
      en: 'An organisation with this name already exists in the province',
      vi: 'Tỉnh/thành phố đã có tổ chức mang tên này',
    },
  },
  'conflict.state': {
    status: 409,
    title: {
      en: 'The action is not allowed in the current state',
      vi: 'Không thể thực hiện thao tác ở trạng thái hiện tại',
    },
  },
  'conflict.version': {
    status: 409,
    title: {
      en: 'The record was changed by someone else; reload it and try again',
      vi: 'Bản ghi đã được người khác thay đổi; vui lòng tải lại và thử lại',
    },
  },
  'precondition.failed': {
    status: 412,
    title: { en: 'The precondition failed', vi: 'Điều kiện tiên quyết không được đáp ứng' },
  },
  unprocessable: {
    status: 422,
    title: { en: 'The request cannot be processed', vi: 'Không thể xử lý yêu cầu' },
  },
  'audit.checkpoint_refused': {
    status: 409,
    title: {
      en: 'The access log no longer matches its last checkpoint; no new checkpoint is signed. Run a verification.',
      vi: 'Nhật ký truy cập không còn khớp với điểm kiểm tra gần nhất; không ký điểm kiểm tra mới. Hãy chạy kiểm tra toàn vẹn.',
    },
  },
  'service.unavailable': {
    status: 503,
    title: {
      en: 'The service is temporarily unavailable',
      vi: 'Dịch vụ tạm thời không khả dụng',
    },
  },
  internal: {
    status: 500,
    title: { en: 'Internal error', vi: 'Lỗi hệ thống' },
  },
};

/** The detail of a 409 on a crypto-shredded case (a change, a close, a note, a second shred). */
export const CASE_SHREDDED: LocalizedText = {
  en: 'The case was crypto-shredded: its content is gone, and nothing can be added to it.',
  vi: 'Vụ việc đã bị xoá vĩnh viễn nội dung (crypto-shredding): không thể thêm gì vào vụ việc.',
};
