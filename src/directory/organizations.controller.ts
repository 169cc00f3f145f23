import { Body, Controller, Get, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { UuidParam } from '../common/http/uuid-param';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy } from '../authz/policy.decorator';
import { RequiresStepUp } from '../authz/step-up';
import type { Principal } from '../authz/principal';
import { Problem } from '../common/errors/problem';
import {
  CreateOrganizationDto,
  OrganizationList,
  OrganizationListQuery,
  OrganizationView,
  UpdateOrganizationDto,
} from './dto/organization.dto';
import { OrganizationsService } from './organizations.service';

@ApiTags('directory')
@Controller('organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @Policy('read', 'Organization')
  @ApiOperation({ summary: 'Organisations (referral targets), by sector and/or a commune they serve' })
  @ApiOkResponse({ type: OrganizationList })
  @ApiBadRequestResponse({ type: Problem })
  list(
    @Query() query: OrganizationListQuery,
    @CurrentAbility() ability: AppAbility,
  ): Promise<OrganizationList> {
    return this.organizations.list(query, ability);
  }

  @Get(':id')
  @Policy('read', 'Organization', { record: 'id' })
  @ApiOperation({ summary: 'One organisation' })
  @ApiOkResponse({ type: OrganizationView })
  @ApiNotFoundResponse({ type: Problem })
  get(@UuidParam() id: string, @CurrentAbility() ability: AppAbility): Promise<OrganizationView> {
    return this.organizations.get(id, ability);
  }

  @Post()
  @Policy('create', 'Organization')
  @RequiresStepUp()
  @ApiOperation({ summary: 'Create an organisation (admin)' })
  @ApiCreatedResponse({ type: OrganizationView })
  @ApiBadRequestResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description:
      'Same name as an active organisation of the province, whatever its case, Unicode form, spacing, vowel of oa/oe/uy bearing the tone ("Hòa", "Hoà"), Ð for Đ or invisible characters',
  })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'Unknown province or communes' })
  create(
    @Body() dto: CreateOrganizationDto,
    @CurrentPrincipal() caller: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<OrganizationView> {
    return this.organizations.create(dto, caller, ability);
  }

  @Patch(':id')
  @Policy('update', 'Organization', { record: 'id' })
  @RequiresStepUp()
  @ApiOperation({ summary: 'Change an organisation’s name, sector or service area (admin)' })
  @ApiOkResponse({ type: OrganizationView })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description:
      'organization.name_taken: an active organisation of the province has that name (a rename, a move to another province, or reinstating a retired one whose name a successor took)',
  })
  @ApiUnprocessableEntityResponse({ type: Problem })
  update(
    @UuidParam() id: string,
    @Body() dto: UpdateOrganizationDto,
    @CurrentPrincipal() caller: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<OrganizationView> {
    return this.organizations.update(id, dto, caller, ability);
  }
}
