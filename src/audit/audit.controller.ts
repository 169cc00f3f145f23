import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import { Problem, RETRY_AFTER_HEADER } from '../common/errors/problem';
import type { Checkpoint } from './audit-checkpoint';
import { AuditCheckpointService } from './audit-checkpoint.service';
import { AuditQueryService, VERIFY_REST_FACTOR, VERIFY_WAIT_MS } from './audit-query.service';
import {
  AnomaliesQuery,
  AnomalyList,
  AuditEventList,
  AuditEventsQuery,
  AuditVerifyView,
  CheckpointPublicKeyView,
  CheckpointView,
} from './dto/audit.dto';

/** A checkpoint is not signed over a log that no longer matches the last one (docs/audit.md). */
const CHECKPOINT_REFUSED = {
  type: Problem,
  description:
    'audit.checkpoint_refused: the log no longer matches its last checkpoint; nothing is signed until a ' +
    'verification has been run',
};

@ApiTags('access log')
@Controller('audit')
export class AuditController {
  constructor(
    private readonly query: AuditQueryService,
    private readonly checkpoints: AuditCheckpointService,
  ) {}

  @Get('events')
  @Policy('read', 'AuditEvent')
  @ApiOperation({
    summary: 'Access-log entries of the supervisor’s jurisdiction, newest first (the read is itself logged)',
    description:
      'A provincial supervisor sees entries about resources of the province and by accounts of the province ' +
      '(sign-ins belong to the account’s communes or organisation); a national supervisor sees everything, ' +
      'including sign-in attempts on unknown usernames. Pages of 50 unless pageSize says otherwise (at most 200).',
  })
  @ApiOkResponse({ type: AuditEventList })
  @ApiBadRequestResponse({ type: Problem })
  events(
    @Query() q: AuditEventsQuery,
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<AuditEventList> {
    return this.query.list(p, ability, q);
  }

  @Get('verify')
  @Policy('verify', 'AuditEvent')
  @ApiOperation({
    summary: 'Recompute the chain and compare it with the newest signed checkpoints (file and database)',
    description:
      '`firstBadSeq` is the lowest seq that is not as it was written: edited, forged, moved, deleted, or the ' +
      'first of a deleted tail. Logged as audit.verify. One pass at a time per instance, shared by the requests ' +
      `that arrive while it runs; the next begins no sooner than ${VERIFY_REST_FACTOR} times its duration after it ` +
      `ended: a request in that rest waits for it when the rest ends within ${VERIFY_WAIT_MS / 1000} s, else is ` +
      'refused (429, Retry-After; docs/audit.md).',
  })
  @ApiOkResponse({ type: AuditVerifyView })
  @ApiTooManyRequestsResponse({
    type: Problem,
    headers: RETRY_AFTER_HEADER,
    description:
      'auth.throttled: a whole verification ended a moment ago; the next can begin after Retry-After',
  })
  verify(@CurrentPrincipal() p: Principal): Promise<AuditVerifyView> {
    return this.query.verify(p);
  }

  @Get('checkpoints/latest')
  @Policy('read', 'AuditEvent')
  @ApiOperation({
    summary: 'The newest signed checkpoint (Ed25519 over the stripe heads)',
    description:
      'Covers the log as it is now, this request included: the request is logged as audit.checkpoint, then a ' +
      'checkpoint is issued (and kept in HAVEN_DATA_DIR/checkpoints and in the database, like the periodic ones). ' +
      'One a second at most per instance: requests that arrive meanwhile wait for the next and share it.',
  })
  @ApiOkResponse({ type: CheckpointView })
  @ApiConflictResponse(CHECKPOINT_REFUSED)
  async latest(@CurrentPrincipal() p: Principal): Promise<Checkpoint> {
    return (await this.query.issueCheckpoint(p)).checkpoint;
  }

  @Post('checkpoints')
  @Policy('verify', 'AuditEvent')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Issue a checkpoint now (returns the latest one when the log has not changed since)',
    description:
      'Covers this request (logged as audit.checkpoint first). One a second at most per instance, with ' +
      'GET checkpoints/latest: requests that arrive meanwhile wait for the next and share it.',
  })
  @ApiOkResponse({ type: CheckpointView })
  @ApiConflictResponse(CHECKPOINT_REFUSED)
  async issue(@CurrentPrincipal() p: Principal): Promise<Checkpoint> {
    return (await this.query.issueCheckpoint(p)).checkpoint;
  }

  @Get('checkpoints/public-key')
  @Policy('read', 'AuditEvent')
  @ApiOperation({ summary: 'The Ed25519 public key checkpoints are signed with' })
  @ApiOkResponse({ type: CheckpointPublicKeyView })
  publicKey(): CheckpointPublicKeyView {
    return {
      ...this.checkpoints.publicKey(),
      message:
        'signature over "haven-audit-checkpoint/1\\n{seq}\\n{at}\\n{root}\\n{keyId}\\n" (UTF-8); root = SHA-256 ' +
        'over the heads sorted by stripe, each stripe (uint16 BE), seq (uint64 BE) and MAC (32 bytes)',
    };
  }

  @Get('anomalies')
  @Policy('read', 'AuditEvent')
  @ApiOperation({
    summary: 'Accounts that read unusually many cases, repeated denials, access outside working hours',
    description:
      'Rules and thresholds in docs/audit.md; within the supervisor’s jurisdiction; logged as audit.read.',
  })
  @ApiOkResponse({ type: AnomalyList })
  anomalies(
    @Query() q: AnomaliesQuery,
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<AnomalyList> {
    return this.query.anomalies(p, ability, q);
  }
}
