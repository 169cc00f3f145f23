import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Max, Min } from 'class-validator';
import { QueryInteger } from './query-integer';

/** `?page=&pageSize=` of every paginated list (each list documents its default page size). */
export class PageQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1_000_000,
    default: 1,
    description:
      'Pages reach the first 10,000 rows of a list: a page that would skip more is a 400 on `page` (narrow ' +
      'the list with its filters; the access log: beforeSeq; the case list: search)',
  })
  @IsOptional()
  @QueryInteger()
  @Min(1)
  @Max(1_000_000)
  page?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200 })
  @IsOptional()
  @QueryInteger()
  @Min(1)
  @Max(200)
  pageSize?: number;
}
