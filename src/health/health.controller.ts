import { Controller, Get } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Public } from '../authz/policy.decorator';
import { DomainError } from '../common/errors/domain-error';
import { LocalizedText } from '../common/errors/error-catalog';
import { Problem } from '../common/errors/problem';

const READ_ONLY: LocalizedText = {
  en: 'The database takes no writes (a standby, or set read-only): this instance cannot record accesses.',
  vi: 'Cơ sở dữ liệu không nhận ghi (máy dự phòng, hoặc đang ở chế độ chỉ đọc): máy chủ này không thể ghi nhật ký truy cập.',
};

class HealthStatus {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness and database check (public, no authentication)' })
  @ApiOkResponse({ type: HealthStatus })
  @ApiServiceUnavailableResponse({
    type: Problem,
    description: 'The database does not answer, or takes no writes (a standby, or set read-only)',
  })
  async check(): Promise<HealthStatus> {
    let readOnly: boolean;
    try {
      // Every request writes to the access log (reads too): a database that takes no writes serves nothing.
      const [row] = await this.dataSource.query<{ read_only: boolean }[]>(
        `SELECT current_setting('transaction_read_only') = 'on' AS read_only`,
      );
      readOnly = row.read_only;
    } catch (e) {
      // Its cause goes to the log with the refusal (ProblemFilter): why the database does not answer.
      throw new DomainError('service.unavailable', undefined, undefined, undefined, { cause: e });
    }
    if (readOnly) throw new DomainError('service.unavailable', READ_ONLY);
    return { status: 'ok' };
  }
}
