import { Body, Controller, Get, HttpCode, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPreconditionFailedResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { UuidParam } from '../common/http/uuid-param';
import { IF_MATCH_MALFORMED, IfMatch, ifMatchOptional } from '../common/http/if-match';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import { Problem, RETRY_AFTER_HEADER } from '../common/errors/problem';
import {
  CaseListView,
  CaseSearchView,
  CaseView,
  ClosedCaseView,
  CreatedCaseView,
  ShreddedCaseView,
} from './case-view';
import { CasesService } from './cases.service';
import { PageQueryDto } from '../common/http/page-query.dto';
import { ApiStepUpResponses } from '../identity/dto/step-up.dto';
import { CloseCaseDto, SearchCasesDto, ShredCaseDto } from './dto/case-actions.dto';
import { CreateCaseDto } from './dto/create-case.dto';
import { UpdateCaseDto } from './dto/update-case.dto';

// Unknown or malformed ids answer like a missing case: the same 404, never a hint.
const CaseId = (): ParameterDecorator => UuidParam('id');

const CLOSED_OR_SHREDDED = {
  type: Problem,
  description: 'conflict.state: the case is closed or crypto-shredded',
};

/** A close or a shred may name the version the caller decided on (the case must not have moved on since). */
const IF_MATCH_OPTIONAL = ifMatchOptional('case');

@ApiTags('cases')
@Controller('cases')
export class CasesController {
  constructor(private readonly cases: CasesService) {}

  @Post()
  @Policy('create', 'Case')
  @ApiOperation({
    summary: 'Register a case (ward officer of the commune). Warns of likely duplicates, never blocks.',
  })
  @ApiCreatedResponse({ type: CreatedCaseView })
  @ApiServiceUnavailableResponse({
    type: Problem,
    headers: RETRY_AFTER_HEADER,
    description:
      'service.unavailable: the database does not answer, or this instance’s keys are older than the ' +
      'database’s KEK floor (a key rotation it has not received yet, docs/keys.md); nothing was written',
  })
  create(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Body() dto: CreateCaseDto,
  ): Promise<CreatedCaseView> {
    return this.cases.create(p, a, dto);
  }

  @Get()
  @Policy('read', 'Case')
  @ApiOperation({
    summary: 'Cases in the caller’s scope, newest first, triage fields only',
    description: 'Pages of 20 unless pageSize says otherwise (at most 200).',
  })
  @ApiOkResponse({ type: CaseListView })
  list(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Query() q: PageQueryDto,
  ): Promise<CaseListView> {
    return this.cases.list(p, a, q.page ?? 1, q.pageSize ?? 20);
  }

  @Post('search')
  @HttpCode(200)
  @Policy('search', 'Case')
  @ApiOperation({
    summary:
      'Find cases by survivor name, date of birth or phone through blind indexes (results never carry the name)',
    description:
      'At least one of `fullName`, `dateOfBirth`, `phone`. With a name, a date of birth narrows it (both must ' +
      'match); without one, the date matches on its own. Fields given together otherwise match any one of ' +
      'them, and `match` says which did. 50 results at most, newest first.',
  })
  @ApiOkResponse({ type: CaseSearchView })
  @ApiTooManyRequestsResponse({ type: Problem, headers: RETRY_AFTER_HEADER })
  search(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Body() dto: SearchCasesDto,
  ): Promise<CaseSearchView> {
    return this.cases.search(p, a, dto);
  }

  @Get(':id')
  @Policy('read', 'Case', { case: 'id' })
  @ApiOperation({
    summary: 'One case with the sections the caller may see; 404 when missing or out of scope',
  })
  @ApiOkResponse({ type: CaseView })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description: 'conflict.state: the case was crypto-shredded while it was being read (read it again)',
  })
  get(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @CaseId() id: string,
  ): Promise<CaseView> {
    return this.cases.get(p, a, id);
  }

  @Patch(':id')
  @Policy('update', 'Case', { case: 'id' })
  @ApiOperation({ summary: 'Update with optimistic locking: If-Match (or version in the body); stale → 409' })
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'the version read (or `version` in the body; `*` names none)',
  })
  @ApiOkResponse({ type: CaseView })
  @ApiConflictResponse({
    type: Problem,
    description:
      'conflict.version: the case changed since that version; conflict.state: it is closed or shredded, or ' +
      'with the age this change gives it an active consent no longer holds (a child-protection duty for an ' +
      'adult, a child under 16 consenting alone: the detail names the consent, to withdraw first)',
  })
  @ApiPreconditionFailedResponse({
    type: Problem,
    description:
      'precondition.failed: no version given (If-Match or `version`), If-Match is not a version, or the two ' +
      'name different versions',
  })
  update(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @CaseId() id: string,
    @Body() dto: UpdateCaseDto,
    @IfMatch() ifMatch?: string,
  ): Promise<CaseView> {
    return this.cases.update(p, a, id, dto, ifMatch);
  }

  @Post(':id/close')
  @HttpCode(200)
  @Policy('close', 'Case', { case: 'id' })
  @ApiOperation({ summary: 'Close the case with a reason' })
  @ApiBody({ type: CloseCaseDto })
  @ApiOkResponse({ type: ClosedCaseView })
  @ApiConflictResponse({
    type: Problem,
    description: `${CLOSED_OR_SHREDDED.description}; conflict.version: If-Match names a version the case has moved on from`,
  })
  @ApiHeader(IF_MATCH_OPTIONAL)
  @ApiPreconditionFailedResponse(IF_MATCH_MALFORMED)
  close(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @CaseId() id: string,
    @Body() dto: CloseCaseDto,
    @IfMatch() ifMatch?: string,
  ): Promise<ClosedCaseView> {
    return this.cases.close(p, a, id, dto, ifMatch);
  }

  @Post(':id/shred')
  @HttpCode(200)
  @Policy('delete', 'Case', { case: 'id' })
  @ApiOperation({
    summary:
      'Admin: crypto-shred the case (destroy its data key); encrypted content becomes unrecoverable, triage stays',
    description:
      'The administrator authenticates again: `password`, and `totp` (a new authenticator code) when the ' +
      'account has two-factor.',
  })
  @ApiStepUpResponses()
  @ApiOkResponse({ type: ShreddedCaseView })
  @ApiConflictResponse({
    type: Problem,
    description:
      'conflict.state: the case is already crypto-shredded; conflict.version: If-Match names a version the case has moved on from',
  })
  @ApiHeader(IF_MATCH_OPTIONAL)
  @ApiPreconditionFailedResponse(IF_MATCH_MALFORMED)
  shred(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @CaseId() id: string,
    @Body() dto: ShredCaseDto,
    @IfMatch() ifMatch?: string,
  ): Promise<{ id: string; shredded: true }> {
    return this.cases.shred(p, a, id, dto, ifMatch);
  }
}
