import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IsNotBlank } from '../../common/http/field-presence';
import { StepUpDto } from '../../identity/dto/step-up.dto';
import { IsCalendarDate } from '../../common/http/date-validation';
import { PHONE_FORMAT } from './create-case.dto';

/**
 * Crypto-shredding cannot be undone: the administrator authenticates again (the password, and a new
 * authenticator code).
 */
export class ShredCaseDto extends StepUpDto {}

export class CloseCaseDto {
  @ApiProperty({ maxLength: 1000, description: 'Why the case closes (stored encrypted)' })
  @IsString()
  @MinLength(1)
  @IsNotBlank()
  @MaxLength(1000)
  reason!: string;
}

/** At least one of the three; the service checks that. Values never leave the request: only blind indexes. */
export class SearchCasesDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @IsNotBlank()
  @MaxLength(200)
  fullName?: string;

  @ApiPropertyOptional({
    example: '2010-05-17',
    description:
      'with fullName, narrows it (the name and this date must both match); without it, matches on its own',
  })
  @IsOptional()
  @IsCalendarDate()
  dateOfBirth?: string;

  @ApiPropertyOptional({ maxLength: 40, description: PHONE_FORMAT.en })
  @IsOptional()
  @IsString()
  @MinLength(3)
  @MaxLength(40)
  phone?: string;
}
