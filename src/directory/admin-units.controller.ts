import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Policy } from '../authz/policy.decorator';
import { Problem } from '../common/errors/problem';
import { AdminUnitsService } from './admin-units.service';
import { AdminUnitList, AdminUnitQuery } from './dto/admin-unit.dto';

@ApiTags('directory')
@Controller('admin-units')
export class AdminUnitsController {
  constructor(private readonly units: AdminUnitsService) {}

  @Get()
  @Policy('read', 'AdminUnit')
  @ApiOperation({ summary: 'Provinces, or the commune-level units of one province (?province=01)' })
  @ApiOkResponse({ type: AdminUnitList })
  @ApiBadRequestResponse({ type: Problem })
  list(@Query() query: AdminUnitQuery): Promise<AdminUnitList> {
    return this.units.list(query.province);
  }
}
