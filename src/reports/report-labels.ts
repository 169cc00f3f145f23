import { REFERRAL_STATUSES, ReferralStatus } from '../authz/subjects';
import { AGE_GROUPS, GBV_TYPES, REPORT_CHANNELS, SEXES, VIOLENCE_FORMS } from '../cases/case-classification';
import { SECTORS, Sector } from '../directory/organization.entity';
import type { LocalizedText } from '../common/errors/error-catalog';

/**
 * The vocabulary of the reports: every table and category with its Vietnamese and English name. The CSV
 * headings and the JSON keys come from here, so that both formats always say the same thing.
 */

export { AGE_GROUPS, GBV_TYPES, REPORT_CHANNELS, SEXES, VIOLENCE_FORMS, SECTORS, REFERRAL_STATUSES };
export type { ReferralStatus, Sector };

export const CHILD_DEFINITIONS = ['under16', 'under18'] as const;
export type ChildDefinition = (typeof CHILD_DEFINITIONS)[number];

/** A table of a report: its JSON path and its bilingual CSV name (`vi_name / en_name`). */
export interface TableDef {
  readonly path: string;
  readonly csv: string;
  readonly title: LocalizedText;
}

export const TABLES = {
  casesTotal: t('cases.total', 'tong_so_vu_viec', 'cases_total', 'Tổng số vụ việc', 'Cases'),
  byGbvType: t(
    'cases.byGbvType',
    'loai_bao_luc_gbvims',
    'gbv_type',
    'Loại bạo lực (GBVIMS)',
    'GBV type (GBVIMS)',
  ),
  byForm: t(
    'cases.byForm',
    'hinh_thuc_bao_luc',
    'violence_form',
    'Hình thức bạo lực (một vụ việc có thể có nhiều hình thức)',
    'Form of violence (a case can have several forms)',
  ),
  bySex: t('cases.bySex', 'gioi_tinh', 'survivor_sex', 'Giới tính nạn nhân', 'Survivor sex'),
  byAgeGroup: t('cases.byAgeGroup', 'nhom_tuoi', 'age_group', 'Nhóm tuổi', 'Age group'),
  children: t('cases.children', 'tre_em', 'children', 'Trẻ em', 'Children'),
  byCommune: t('cases.byCommune', 'xa_phuong', 'commune', 'Xã/phường/đặc khu', 'Commune'),
  byProvince: t('cases.byProvince', 'tinh_thanh_pho', 'province', 'Tỉnh/thành phố', 'Province'),
  byReportChannel: t(
    'cases.byReportChannel',
    'kenh_tiep_nhan',
    'report_channel',
    'Kênh tiếp nhận',
    'Report channel',
  ),
  referralsTotal: t(
    'referrals.total',
    'tong_so_chuyen_gui',
    'referrals_total',
    'Tổng số chuyển gửi',
    'Referrals',
  ),
  bySector: t(
    'referrals.bySector',
    'chuyen_gui_theo_nganh',
    'referrals_by_sector',
    'Theo ngành',
    'By sector',
  ),
  byStatus: t(
    'referrals.byStatus',
    'chuyen_gui_theo_trang_thai',
    'referrals_by_status',
    'Theo trạng thái',
    'By status',
  ),
  bySectorAndStatus: t(
    'referrals.bySectorAndStatus',
    'chuyen_gui_theo_nganh_va_trang_thai',
    'referrals_by_sector_and_status',
    'Theo ngành và trạng thái',
    'By sector and status',
  ),
  overdue: t(
    'referrals.overdue',
    'chuyen_gui_qua_han',
    'referrals_overdue',
    'Chuyển gửi quá hạn chưa phản hồi',
    'Overdue referrals (pending past their deadline)',
  ),
  acceptanceRate: t(
    'referrals.acceptanceRate',
    'ty_le_chap_nhan',
    'acceptance_rate',
    'Tỷ lệ chấp nhận (đã chấp nhận + đã hoàn thành) / (đã chấp nhận + đã hoàn thành + đã từ chối)',
    'Acceptance rate (accepted + completed) / (accepted + completed + declined)',
  ),
  hoursToAccept: t(
    'referrals.hoursToAccept',
    'so_gio_den_khi_chap_nhan',
    'hours_to_accept',
    'Số giờ từ khi chuyển gửi đến khi được chấp nhận',
    'Hours from referral to acceptance',
  ),
} as const satisfies Record<string, TableDef>;

function t(path: string, csvVi: string, csvEn: string, vi: string, en: string): TableDef {
  return { path, csv: `${csvVi} / ${csvEn}`, title: { vi, en } };
}

export const GBV_TYPE_LABELS: Record<(typeof GBV_TYPES)[number], LocalizedText> = {
  rape: { vi: 'Hiếp dâm', en: 'Rape' },
  sexual_assault: { vi: 'Tấn công tình dục', en: 'Sexual assault' },
  physical_assault: { vi: 'Tấn công thể chất', en: 'Physical assault' },
  forced_marriage: { vi: 'Cưỡng ép kết hôn', en: 'Forced marriage' },
  denial_of_resources_opportunities_or_services: {
    vi: 'Ngăn cản tiếp cận nguồn lực, cơ hội hoặc dịch vụ',
    en: 'Denial of resources, opportunities or services',
  },
  psychological_emotional_abuse: { vi: 'Bạo lực tâm lý, tình cảm', en: 'Psychological or emotional abuse' },
  non_gbv: { vi: 'Không phải bạo lực giới', en: 'Not gender-based violence' },
};

export const FORM_LABELS: Record<(typeof VIOLENCE_FORMS)[number], LocalizedText> = {
  physical: { vi: 'Thể chất', en: 'Physical' },
  psychological: { vi: 'Tinh thần', en: 'Psychological' },
  sexual: { vi: 'Tình dục', en: 'Sexual' },
  economic: { vi: 'Kinh tế', en: 'Economic' },
};

export const SEX_LABELS: Record<(typeof SEXES)[number], LocalizedText> = {
  female: { vi: 'Nữ', en: 'Female' },
  male: { vi: 'Nam', en: 'Male' },
  other: { vi: 'Khác', en: 'Other' },
  unknown: { vi: 'Không rõ', en: 'Unknown' },
};

export const AGE_GROUP_LABELS: Record<(typeof AGE_GROUPS)[number], LocalizedText> = {
  '0-5': { vi: '0–5 tuổi', en: '0–5 years' },
  '6-11': { vi: '6–11 tuổi', en: '6–11 years' },
  '12-15': { vi: '12–15 tuổi', en: '12–15 years' },
  '16-17': { vi: '16–17 tuổi', en: '16–17 years' },
  '18-59': { vi: '18–59 tuổi', en: '18–59 years' },
  '60+': { vi: 'Từ 60 tuổi trở lên', en: '60 years and over' },
  unknown: { vi: 'Không rõ tuổi', en: 'Age unknown' },
};

export const CHILD_LABELS: Record<ChildDefinition, LocalizedText> = {
  under16: { vi: 'Dưới 16 tuổi (Luật Trẻ em 2016)', en: 'Under 16 (Vietnamese Law on Children 2016)' },
  under18: { vi: 'Dưới 18 tuổi (GBVIMS)', en: 'Under 18 (GBVIMS)' },
};

export const CHANNEL_LABELS: Record<(typeof REPORT_CHANNELS)[number], LocalizedText> = {
  walk_in: { vi: 'Đến trực tiếp', en: 'Walk-in' },
  phone: { vi: 'Điện thoại', en: 'Phone' },
  hotline_111: { vi: 'Tổng đài 111', en: 'Hotline 111' },
  police: { vi: 'Công an', en: 'Police' },
  school: { vi: 'Trường học', en: 'School' },
  health_facility: { vi: 'Cơ sở y tế', en: 'Health facility' },
  community: { vi: 'Cộng đồng', en: 'Community' },
  other: { vi: 'Khác', en: 'Other' },
};

export const SECTOR_LABELS: Record<Sector, LocalizedText> = {
  police: { vi: 'Công an', en: 'Police' },
  health: { vi: 'Y tế', en: 'Health' },
  social: { vi: 'Công tác xã hội', en: 'Social services' },
  shelter: { vi: 'Nhà tạm lánh', en: 'Shelter' },
  legal: { vi: 'Trợ giúp pháp lý', en: 'Legal aid' },
  other: { vi: 'Khác', en: 'Other' },
};

export const STATUS_LABELS: Record<ReferralStatus, LocalizedText> = {
  pending: { vi: 'Chờ phản hồi', en: 'Pending' },
  accepted: { vi: 'Đã chấp nhận', en: 'Accepted' },
  declined: { vi: 'Đã từ chối', en: 'Declined' },
  completed: { vi: 'Đã hoàn thành', en: 'Completed' },
  revoked: { vi: 'Đã thu hồi', en: 'Revoked' },
};

export const TOTAL_LABEL: LocalizedText = { vi: 'Tổng số', en: 'Total' };
export const HOURS_LABELS = {
  median: { vi: 'Trung vị', en: 'Median' },
  p90: { vi: 'Bách phân vị thứ 90', en: '90th percentile' },
} as const satisfies Record<string, LocalizedText>;

/** Notes every report carries (JSON `notes`, CSV `thong_tin / info` rows). */
export const REPORT_NOTES: readonly LocalizedText[] = [
  {
    vi: 'Số liệu ẩn danh, tính từ các trường phân loại ban đầu; không giải mã nội dung vụ việc.',
    en: 'Anonymised counts computed from the plaintext triage fields; no case content is decrypted.',
  },
  {
    vi: 'Kỳ báo cáo tính theo ngày tiếp nhận vụ việc, giờ Việt Nam (UTC+7), tính cả ngày đầu và ngày cuối.',
    en: 'The period is on the date each case was reported, Vietnam time (UTC+7), first and last day included.',
  },
  {
    vi: '"<5": từ 1 đến 4; "suppressed": số từ 5 trở lên nhưng được ẩn để không suy ra được một số nhỏ khác. Số 0 vẫn hiển thị, trừ khi nằm trong một ô "<5".',
    en: '"<5": 1 to 4; "suppressed": hidden (5 or more) so that no small count can be worked out. Zero is shown, except inside a "<5" count.',
  },
  {
    vi: '"withheld": không công bố (giá trị bất kỳ, kể cả 0): số liệu chuyển gửi của dưới 5 vụ việc là lịch sử của chính những người bị bạo lực đó; cả báo cáo khi không có cách ẩn nào bảo vệ được các số nhỏ của nó.',
    en: '"withheld": not published (any value, zero included): the referral figures of fewer than 5 cases are those survivors\' own history; so is a whole report when no pattern of hidden cells protects its small counts.',
  },
  {
    vi: 'Một vụ việc có thể có nhiều hình thức bạo lực: tổng theo hình thức có thể lớn hơn tổng số vụ việc.',
    en: 'A case can have several forms of violence: the counts by form can add up to more than the number of cases.',
  },
  {
    vi: 'Chuyển gửi: của các vụ việc trong kỳ và địa bàn, theo trạng thái tại thời điểm lập báo cáo.',
    en: 'Referrals: those of the cases in the period and area, by their status when the report was generated.',
  },
];
