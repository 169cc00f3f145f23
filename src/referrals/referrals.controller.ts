import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPreconditionFailedResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Problem } from '../common/errors/problem';
import { UuidParam } from '../common/http/uuid-param';
import { IF_MATCH_MALFORMED, IfMatch, ifMatchOptional } from '../common/http/if-match';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import {
  CompleteReferralDto,
  CreateNoteDto,
  CreateReferralDto,
  DeclineReferralDto,
  ReferralListQueryDto,
  RevokeReferralDto,
} from './dto/referral.dto';
import { NoteView, ReferralListView, ReferralView } from './referral-view';
import { ReferralsService } from './referrals.service';

const Id = UuidParam;

/** Any move the referral's state does not allow (product brief, step 4). */
const ILLEGAL_MOVE = {
  type: Problem,
  description:
    'conflict.state: the referral’s state does not allow this move (or its case was shredded; to accept: or ' +
    'its case is closed); conflict.version: If-Match names a version the referral has moved on from (the ' +
    'problem says its state and version now)',
};
const IF_MATCH_OPTIONAL = ifMatchOptional('referral');

@ApiTags('referrals')
@Controller()
export class ReferralsController {
  constructor(private readonly referrals: ReferralsService) {}

  @Post('cases/:id/referrals')
  @Policy('create', 'Referral', { case: 'id' })
  @ApiOperation({
    summary: 'Refer the case to an organisation on a consent or legal basis; 422 when it does not cover it',
  })
  @ApiCreatedResponse({ type: ReferralView })
  @ApiConflictResponse({
    type: Problem,
    description:
      'conflict.state: the case is closed, or the organisation already has an open referral for it',
  })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'unprocessable: no such organisation, or a retired one, or the consent does not cover it, has ended, or no longer fits ' +
      'the survivor’s age (a child-protection duty for an adult, a child under 16 consenting alone)',
  })
  create(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() caseId: string,
    @Body() dto: CreateReferralDto,
  ): Promise<ReferralView> {
    return this.referrals.create(p, a, caseId, dto);
  }

  @Get('referrals')
  @Policy('read', 'Referral')
  @ApiOperation({
    summary:
      'Provider: the organisation’s inbox; ward officer: its communes’ referrals. status=overdue is the escalation list. ' +
      'Those waiting for an answer (pending) first, most urgent deadline first; then accepted, then ended, ' +
      'each newest referral first (by when it was made); 50 per page unless ' +
      'pageSize says otherwise (at most 200).',
  })
  @ApiOkResponse({ type: ReferralListView })
  list(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Query() q: ReferralListQueryDto,
  ): Promise<ReferralListView> {
    return this.referrals.list(p, a, q.status, q.page ?? 1, q.pageSize ?? 50);
  }

  @Get('referrals/:id')
  @Policy('read', 'Referral', { referral: 'id' })
  @ApiOperation({ summary: 'The referral and what its organisation may see of the case now' })
  @ApiOkResponse({ type: ReferralView })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description: 'conflict.state: its case was crypto-shredded while it was being read (read it again)',
  })
  get(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
  ): Promise<ReferralView> {
    return this.referrals.get(p, a, id);
  }

  @Post('referrals/:id/accept')
  @ApiHeader(IF_MATCH_OPTIONAL)
  @ApiPreconditionFailedResponse(IF_MATCH_MALFORMED)
  @HttpCode(200)
  @Policy('accept', 'Referral', { referral: 'id' })
  @ApiOkResponse({ type: ReferralView })
  @ApiConflictResponse(ILLEGAL_MOVE)
  accept(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @IfMatch() ifMatch?: string,
  ): Promise<ReferralView> {
    return this.referrals.accept(p, a, id, ifMatch);
  }

  @Post('referrals/:id/decline')
  @ApiHeader(IF_MATCH_OPTIONAL)
  @ApiPreconditionFailedResponse(IF_MATCH_MALFORMED)
  @HttpCode(200)
  @Policy('decline', 'Referral', { referral: 'id' })
  @ApiOkResponse({ type: ReferralView })
  @ApiConflictResponse(ILLEGAL_MOVE)
  decline(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @Body() dto: DeclineReferralDto,
    @IfMatch() ifMatch?: string,
  ): Promise<ReferralView> {
    return this.referrals.decline(p, a, id, dto, ifMatch);
  }

  @Post('referrals/:id/complete')
  @ApiHeader(IF_MATCH_OPTIONAL)
  @ApiPreconditionFailedResponse(IF_MATCH_MALFORMED)
  @HttpCode(200)
  @Policy('complete', 'Referral', { referral: 'id' })
  @ApiOkResponse({ type: ReferralView })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'unprocessable: servicesDelivered names a service the referral did not request, is empty with the outcome ' +
      'services_delivered, or names one with unable_to_contact',
  })
  @ApiConflictResponse(ILLEGAL_MOVE)
  complete(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @Body() dto: CompleteReferralDto,
    @IfMatch() ifMatch?: string,
  ): Promise<ReferralView> {
    return this.referrals.complete(p, a, id, dto, ifMatch);
  }

  @Post('referrals/:id/revoke')
  @ApiHeader(IF_MATCH_OPTIONAL)
  @ApiPreconditionFailedResponse(IF_MATCH_MALFORMED)
  @HttpCode(200)
  @Policy('revoke', 'Referral', { referral: 'id' })
  @ApiOkResponse({ type: ReferralView })
  @ApiConflictResponse(ILLEGAL_MOVE)
  revoke(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @Body() dto: RevokeReferralDto,
    @IfMatch() ifMatch?: string,
  ): Promise<ReferralView> {
    return this.referrals.revoke(p, a, id, dto, ifMatch);
  }

  @Post('referrals/:id/notes')
  @Policy('create', 'Note', { referral: 'id' })
  @ApiOperation({ summary: 'A note visible only to the author’s organisation and the ward' })
  @ApiCreatedResponse({ type: NoteView })
  @ApiConflictResponse({
    type: Problem,
    description:
      'conflict.state: the referral has ended, or its case is closed or shredded; for its organisation, the ' +
      'referral is not accepted yet',
  })
  addNote(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @Body() dto: CreateNoteDto,
  ): Promise<NoteView> {
    return this.referrals.addNote(p, a, id, dto);
  }
}
