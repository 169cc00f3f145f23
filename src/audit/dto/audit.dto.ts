import { UuidField } from '../../common/http/uuid-param';
import { MAX_FINDINGS, VERIFY_PROBLEMS } from '../audit-verifier';
import { CHECKPOINT_SOURCES } from '../audit-verify';
import { PageQueryDto } from '../../common/http/page-query.dto';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Max, Min } from 'class-validator';
import { QueryInteger } from '../../common/http/query-integer';
import { IsDateOrInstant } from '../../common/http/date-validation';
import {
  AUDIT_ACTIONS,
  AUDIT_FIELD_CATEGORIES,
  AUDIT_OUTCOMES,
  AuditAction,
  AuditOutcome,
} from '../audit.types';

/** Default page size 50. */
export class AuditEventsQuery extends PageQueryDto {
  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'The entries about the case, and the searches and lists (of cases, of referrals) that returned it or one ' +
      'of its referrals',
  })
  @IsOptional()
  @UuidField()
  caseId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @UuidField() actorId?: string;
  @ApiPropertyOptional({ enum: AUDIT_ACTIONS }) @IsOptional() @IsIn(AUDIT_ACTIONS) action?: AuditAction;
  @ApiPropertyOptional({ enum: AUDIT_OUTCOMES }) @IsOptional() @IsIn(AUDIT_OUTCOMES) outcome?: AuditOutcome;
  @ApiPropertyOptional({
    description:
      'From this instant (inclusive), a date (YYYY-MM-DD: 00:00 Vietnam time) or a date and time with its offset',
    example: '2026-11-01T00:00:00Z',
  })
  @IsOptional()
  @IsDateOrInstant()
  from?: string;
  @ApiPropertyOptional({
    description:
      'Until this instant (exclusive), a date (YYYY-MM-DD: 00:00 Vietnam time) or a date and time with its offset',
  })
  @IsOptional()
  @IsDateOrInstant()
  to?: string;
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description:
      'Only entries older than this seq: the nextBeforeSeq of the page before. Walking the list so (page 1 each ' +
      'time) repeats no entry and skips none written before the walk began, whatever is written meanwhile ' +
      '(every read of the log adds one). An entry written during the walk may land behind it (a seq is taken ' +
      'before its transaction commits, and instances take seqs in blocks): a new walk from the top sees it. ' +
      'With it, `page` still counts pages among those older entries, and `total` is the number of entries ' +
      'the other filters match, older or not',
  })
  @IsOptional()
  @QueryInteger()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER) // beyond it, 1e21 is an "integer" PostgreSQL cannot read as a bigint
  beforeSeq?: number;
}

export class AuditEventView {
  @ApiProperty({ description: 'Position in the log (gaps are rolled-back transactions)' }) seq!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) actorId!: string | null;
  @ApiProperty({ nullable: true, type: String, enum: ['ward_officer', 'provider', 'supervisor', 'admin'] })
  actorRole!: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String }) actorOrganizationId?: string | null;
  @ApiPropertyOptional({ type: [String], description: "A ward officer's communes" })
  actorWardCodes?: string[];
  @ApiProperty({ enum: AUDIT_ACTIONS }) action!: string;
  @ApiPropertyOptional({ format: 'uuid' }) caseId?: string;
  @ApiProperty({ nullable: true, type: String }) resourceType!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) resourceId!: string | null;
  @ApiProperty({
    type: [String],
    enum: AUDIT_FIELD_CATEGORIES,
    description: 'Field categories disclosed or written',
  })
  fields!: string[];
  @ApiProperty({ enum: AUDIT_OUTCOMES }) outcome!: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Error code of a denial or failure' })
  reason?: string | null;
  @ApiProperty({ nullable: true, type: String }) ip!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) userAgent?: string | null;
  @ApiProperty({ nullable: true, type: String }) requestId!: string | null;
  @ApiPropertyOptional({
    type: [String],
    description:
      "Ids a list or search returned; to a provincial supervisor, those of the province's own records only",
  })
  returnedIds?: string[];
  @ApiPropertyOptional({ nullable: true, type: String, description: "Resource's province" })
  provinceCode?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: "Resource's commune" }) wardCode?:
    string | null;
}

export class AuditEventList {
  @ApiProperty({ type: [AuditEventView] }) items!: AuditEventView[];
  @ApiProperty({
    description:
      'Entries the filters match (beforeSeq aside), on every page; counted up to HAVEN_AUDIT_COUNT_LIMIT ' +
      '(10,000 by default; see totalCapped)',
  })
  total!: number;
  @ApiProperty({
    description:
      'True when more entries match than are counted: total is then the limit, a lower bound (walk the list ' +
      'by beforeSeq)',
  })
  totalCapped!: boolean;
  @ApiProperty({
    nullable: true,
    type: Number,
    description:
      "The beforeSeq of the next page (the seq of this page's last entry); null once a page is short of its " +
      'size (after a full last page, the next one is empty)',
  })
  nextBeforeSeq!: number | null;
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
}

export class AuditCheckpointSourceView {
  @ApiProperty() seq!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty() keyId!: string;
  @ApiProperty({ type: [String], enum: CHECKPOINT_SOURCES, description: '`offhost`: audit:verify only' })
  sources!: string[];
}

export class AuditVerifyFindingView {
  @ApiProperty() seq!: number;
  @ApiProperty({ enum: VERIFY_PROBLEMS }) problem!: string;
}

export class AuditVerifyView {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Entries checked' }) checked!: number;
  @ApiPropertyOptional({ description: 'The lowest seq that is not as written' }) firstBadSeq?: number;
  @ApiPropertyOptional({ enum: VERIFY_PROBLEMS })
  problem?: string;
  @ApiPropertyOptional({
    type: [AuditVerifyFindingView],
    maxItems: MAX_FINDINGS,
    description:
      'The chain’s findings, lowest seq first (the first is firstBadSeq’s): a finding known from before hides ' +
      'no new one from whoever compares the lists',
  })
  findings?: AuditVerifyFindingView[];
  @ApiPropertyOptional({
    description: 'How many findings the checks made in all (an entry two checks find may count twice)',
  })
  findingsCount?: number;
  @ApiProperty() lastSeq!: number;
  @ApiPropertyOptional({ description: 'Seq of the newest checkpoint the log was compared with' })
  checkpointSeq?: number;
  @ApiProperty({
    description:
      'Worker threads that checked the log in parallel (HAVEN_AUDIT_VERIFY_WORKERS); 0 when one thread read it',
  })
  workers!: number;
  @ApiProperty({ type: AuditCheckpointSourceView, nullable: true })
  checkpoint!: AuditCheckpointSourceView | null;
  @ApiProperty({
    format: 'date-time',
    description:
      'When this pass began reading the log. One pass runs at a time per instance: a request that arrives while ' +
      'one runs gets its answer, which covers the log up to lastSeq as it was then (the next pass begins no ' +
      'sooner than twice this one’s duration after it ended)',
  })
  startedAt!: string;
}

export class CheckpointHeadView {
  @ApiProperty() stripe!: number;
  @ApiProperty() seq!: number;
  @ApiProperty({ description: 'MAC of the stripe’s last entry, base64' }) mac!: string;
}

export class CheckpointView {
  @ApiProperty({ example: 'haven-audit-checkpoint/1' }) format!: string;
  @ApiProperty({ description: 'Highest seq covered' }) seq!: number;
  @ApiProperty({ description: 'SHA-256 over the stripe heads, hex' }) root!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ example: 'ed25519:0123456789abcdef' }) keyId!: string;
  @ApiProperty({ description: 'Ed25519 signature, base64' }) signature!: string;
  @ApiProperty({ description: 'Ed25519 public key, base64' }) publicKey!: string;
  @ApiProperty({ type: [CheckpointHeadView] }) heads!: CheckpointHeadView[];
}

export class CheckpointPublicKeyView {
  @ApiProperty({ example: 'Ed25519' }) algorithm!: string;
  @ApiProperty() keyId!: string;
  @ApiProperty({ description: 'base64' }) publicKey!: string;
  @ApiProperty({
    description: 'How to verify a checkpoint',
    example:
      'signature over "haven-audit-checkpoint/1\\n{seq}\\n{at}\\n{root}\\n{keyId}\\n"; root = SHA-256 over heads',
  })
  message!: string;
}

export class AnomaliesQuery {
  @ApiPropertyOptional({
    description:
      'Start of the period (default: 7 days before to), a date (YYYY-MM-DD: 00:00 Vietnam time) or a date and time with its offset; before to, and at most 31 days before it (400 otherwise)',
  })
  @IsOptional()
  @IsDateOrInstant()
  from?: string;
  @ApiPropertyOptional({
    description:
      'End of the period (default: now), a date (YYYY-MM-DD: 00:00 Vietnam time) or a date and time with its offset',
  })
  @IsOptional()
  @IsDateOrInstant()
  to?: string;
}

/** The anomaly rules, as /audit/anomalies names them in its items and in `rules` (AuditQueryService.anomalies). */
export const ANOMALY_RULE_NAMES = [
  'many_cases',
  'many_searches',
  'many_searches_daily',
  'many_break_glass',
  'repeated_denials',
  'many_accounts',
  'outside_hours',
  'after_admin_reset',
] as const;
export type AnomalyRuleName = (typeof ANOMALY_RULE_NAMES)[number];

export class AnomalyView {
  @ApiProperty({
    enum: ANOMALY_RULE_NAMES,
  })
  rule!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) actorId!: string | null;
  @ApiProperty({ nullable: true, type: String }) actorRole!: string | null;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description:
      'The address: for denials without an account, and for many_accounts (an IPv6 one as its /64 network, e.g. 2001:db8:1:2::/64)',
  })
  ip?: string | null;
  @ApiProperty({
    description:
      'Distinct cases, searches (many_searches, many_searches_daily), denials, accounts (many_accounts) or accesses that triggered the rule',
  })
  count!: number;
  @ApiProperty({
    format: 'date-time',
    description:
      'Start of the window it happened in: of 90 minutes (the hourly rules), the day, or the moment of the reset',
  })
  windowStart!: string;
  @ApiProperty({ format: 'date-time' }) firstAt!: string;
  @ApiProperty({ format: 'date-time' }) lastAt!: string;
  @ApiProperty({ type: [Number], description: 'Up to 20 entries to look at' }) seqs!: number[];
}

export class AnomalyList {
  @ApiProperty({
    type: [AnomalyView],
    description: 'Newest window first; at most 500 findings of each rule, its newest (see omitted)',
  })
  items!: AnomalyView[];
  @ApiProperty({
    description:
      'For each rule with more findings in the period than the 500 listed: how many more (a shorter period lists them); {} when none was left out',
    example: { outside_hours: 1240 },
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  omitted!: Partial<Record<AnomalyRuleName, number>>;
  @ApiProperty({
    description:
      'The rules and their thresholds, as applied: for each rule, its text in English and Vietnamese',
    example: { many_cases: { en: 'an account read at least 20 distinct cases within one hour', vi: '…' } },
  })
  rules!: Record<string, { en: string; vi: string }>;
}
