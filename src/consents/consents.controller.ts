import { Body, Controller, Delete, Get, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Problem } from '../common/errors/problem';
import { PageQueryDto } from '../common/http/page-query.dto';
import { UuidParam } from '../common/http/uuid-param';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import { ConsentList, ConsentsService, ConsentView } from './consents.service';
import { CreateConsentDto } from './dto/create-consent.dto';

const Id = UuidParam;

@ApiTags('consents')
@Controller('cases/:id/consents')
export class ConsentsController {
  constructor(private readonly consents: ConsentsService) {}

  @Post()
  @Policy('create', 'Consent', { case: 'id' })
  @ApiOperation({
    summary: 'Record informed consent, or a legal basis with a reason, for an organisation or a sector',
  })
  @ApiCreatedResponse({ type: ConsentView })
  @ApiConflictResponse({
    type: Problem,
    description: 'conflict.state: the case is closed or crypto-shredded',
  })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'unprocessable: no such organisation, or a retired one; a child under 16 consenting alone; a child-protection duty for an adult',
  })
  create(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id('id') caseId: string,
    @Body() dto: CreateConsentDto,
  ): Promise<ConsentView> {
    return this.consents.create(p, a, caseId, dto);
  }

  @Get()
  @Policy('read', 'Consent', { case: 'id' })
  @ApiOperation({
    summary:
      'The consents and legal bases of a case, newest first, with their status (ward officers of its commune)',
    description:
      'Metadata, and each legal basis’s reason (the read then names `notes`). On the access log as `consent.read`.',
  })
  @ApiOkResponse({ type: ConsentList })
  @ApiConflictResponse({
    type: Problem,
    description: 'conflict.state: the case was crypto-shredded while it was being read (read it again)',
  })
  list(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id('id') caseId: string,
    @Query() query: PageQueryDto,
  ): Promise<ConsentList> {
    return this.consents.list(p, a, caseId, query.page, query.pageSize);
  }

  @Delete(':consentId')
  @Policy('withdraw', 'Consent', { case: 'id', record: 'consentId' })
  @ApiOperation({ summary: 'Withdraw: the referrals relying on it are revoked at once' })
  @ApiOkResponse({ type: ConsentView })
  @ApiConflictResponse({
    type: Problem,
    description: 'conflict.state: the consent was withdrawn or has expired',
  })
  withdraw(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id('id') caseId: string,
    @Id('consentId') consentId: string,
  ): Promise<ConsentView> {
    return this.consents.withdraw(p, a, caseId, consentId);
  }
}
