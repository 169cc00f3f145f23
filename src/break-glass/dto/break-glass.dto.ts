import { REFERRAL_STATUSES } from '../../authz/subjects';
import { REVOKE_CAUSES } from '../../referrals/referral-state';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IsNotBlank } from '../../common/http/field-presence';
import { PageQueryDto } from '../../common/http/page-query.dto';
import { StepUpDto } from '../../identity/dto/step-up.dto';

export const BREAK_GLASS_STATUS_FILTER = ['pending', 'reviewed', 'all'] as const;

/**
 * Opening a case in an emergency: why a life is at risk (stored encrypted with the case's data key), and the
 * provider's step-up: emergency access is opened by the person, not by a token alone.
 */
export class OpenBreakGlassDto extends StepUpDto {
  @ApiProperty({ minLength: 10, maxLength: 2000, description: 'why a life is at risk (stored encrypted)' })
  @IsString()
  @MinLength(10)
  @IsNotBlank()
  @MaxLength(2000)
  justification!: string;
}

export class ReviewBreakGlassDto {
  @ApiProperty({ description: 'whether the emergency access was justified' })
  @IsBoolean()
  justified!: boolean;

  @ApiPropertyOptional({ maxLength: 2000, description: 'the reviewer’s note (stored encrypted)' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @IsNotBlank()
  @MaxLength(2000)
  note?: string;
}

/** Default page size 20. */
export class BreakGlassListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: BREAK_GLASS_STATUS_FILTER, default: 'pending' })
  @IsOptional()
  @IsIn(BREAK_GLASS_STATUS_FILTER)
  status?: (typeof BREAK_GLASS_STATUS_FILTER)[number];
}

/** What the opener gets: the grant, until when it lasts and what it shows. */
export class BreakGlassOpened {
  @ApiProperty() id!: string;
  @ApiProperty() caseId!: string;
  @ApiProperty() expiresAt!: string;
  @ApiProperty({ type: [String] }) categories!: string[];
}

/** The opener's organisation's last referral of the case before the grant opened, as it stands. */
export class PriorReferralView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({
    enum: REFERRAL_STATUSES,
    description: 'as access decisions take it: revoked from the moment its consent ended',
  })
  status!: string;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    enum: REVOKE_CAUSES,
    description: 'Why it was revoked',
  })
  revokeCause!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description:
      "when it was declined, completed or revoked (null: still live): a revocation before the grant's openedAt " +
      '(its consent withdrawn) means the grant reached what had been closed to the organisation; an end after ' +
      'it (a completion, a decline, a withdrawal, the case closed) came later',
  })
  endedAt!: string | null;
}

/** A grant in the review queue, with its justification for the supervisor to judge. */
export class BreakGlassView extends BreakGlassOpened {
  @ApiProperty() caseCode!: string;
  @ApiProperty() userId!: string;
  @ApiProperty() username!: string;
  @ApiProperty() organizationId!: string;
  @ApiProperty({ enum: ['police', 'health'] }) sector!: string;
  @ApiProperty() provinceCode!: string;
  @ApiProperty() wardCode!: string;
  @ApiProperty() openedAt!: string;
  @ApiProperty() active!: boolean;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'null once the case was crypto-shredded, or when it does not open (see unreadable)',
  })
  justification!: string | null;
  @ApiProperty({
    description:
      'true when the justification or the review note is there but does not open (altered, or a key gone ' +
      'from the keyring): an incident for the administrators, logged with the grant; false otherwise, a ' +
      'shredded case included',
  })
  unreadable!: boolean;
  @ApiProperty({ enum: ['pending', 'reviewed'] }) status!: 'pending' | 'reviewed';
  @ApiPropertyOptional({ nullable: true, type: Boolean }) justified!: boolean | null;
  @ApiPropertyOptional({ nullable: true, type: String }) reviewNote!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) reviewedBy!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) reviewedAt!: string | null;
  @ApiPropertyOptional({
    nullable: true,
    type: PriorReferralView,
    description:
      'The opener’s organisation’s last referral of the case made before the grant opened, or null: a grant ' +
      'opened after the survivor withdrew consent from that organisation (revokeCause consent_withdrawn), or ' +
      'after the ward revoked or the organisation declined its referral, reaches what was closed to it',
  })
  priorReferral!: PriorReferralView | null;
}

export class BreakGlassListView {
  @ApiProperty({ type: [BreakGlassView] }) items!: BreakGlassView[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
}
