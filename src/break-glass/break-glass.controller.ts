import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { UuidParam } from '../common/http/uuid-param';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { RequiresStepUp } from '../authz/step-up';
import { Policy } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import { Problem } from '../common/errors/problem';
import { ApiStepUpResponses } from '../identity/dto/step-up.dto';
import { BreakGlassService } from './break-glass.service';
import {
  BreakGlassListQueryDto,
  BreakGlassListView,
  BreakGlassOpened,
  BreakGlassView,
  OpenBreakGlassDto,
  ReviewBreakGlassDto,
} from './dto/break-glass.dto';

// Unknown or malformed ids answer like a missing record: the same 404, never a hint.
const Id = (): ParameterDecorator => UuidParam('id');

@ApiTags('break-glass')
@Controller()
export class BreakGlassController {
  constructor(private readonly breakGlass: BreakGlassService) {}

  @Post('cases/:id/break-glass')
  @Policy('create', 'BreakGlass', { case: 'id' })
  @ApiOperation({
    summary:
      'Emergency access: a police or health provider of the case’s area opens a case without a referral, ' +
      'with a justification; time-limited, flagged in the access log and reviewed by a supervisor',
    description:
      'The provider authenticates again: `password`, and `totp` (a new authenticator code) when the account ' +
      'has two-factor. A session that ends while the request runs (the account disabled, its password or ' +
      'two-factor reset) opens nothing: 401.',
  })
  @ApiCreatedResponse({ type: BreakGlassOpened })
  @ApiStepUpResponses()
  @ApiNotFoundResponse({ type: Problem, description: 'No such case, or outside the organisation’s area' })
  @ApiConflictResponse({
    type: Problem,
    description:
      'conflict.state: the case is closed or was crypto-shredded; an earlier access to it was found ' +
      'unjustified; the caller’s access to it is still running (open it again once it has ended); the ' +
      'organisation’s sector changed meanwhile (try again)',
  })
  open(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @Body() dto: OpenBreakGlassDto,
  ): Promise<BreakGlassOpened> {
    return this.breakGlass.open(p, a, id, dto);
  }

  @Get('break-glass')
  @Policy('read', 'BreakGlass')
  @ApiOperation({
    summary: 'The emergency-access review queue of the supervisor’s jurisdiction',
    description: 'Pages of 20 unless pageSize says otherwise (at most 200).',
  })
  @ApiOkResponse({ type: BreakGlassListView })
  list(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Query() q: BreakGlassListQueryDto,
  ): Promise<BreakGlassListView> {
    return this.breakGlass.list(p, a, q);
  }

  @Post('break-glass/:id/review')
  @HttpCode(200)
  @Policy('update', 'BreakGlass', { grant: 'id' })
  // A verdict is final: a stolen supervisor token alone must not mark every pending grant justified.
  @RequiresStepUp()
  @ApiOperation({
    summary: 'A supervisor marks an emergency access justified or not (once; after a step-up)',
  })
  @ApiOkResponse({ type: BreakGlassView })
  @ApiConflictResponse({
    type: Problem,
    description:
      'conflict.state: it was already reviewed, or its case was crypto-shredded and a note was given (review it ' +
      'without one: there is no key left to seal the note with)',
  })
  review(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() a: AppAbility,
    @Id() id: string,
    @Body() dto: ReviewBreakGlassDto,
  ): Promise<BreakGlassView> {
    return this.breakGlass.review(p, a, id, dto);
  }
}
