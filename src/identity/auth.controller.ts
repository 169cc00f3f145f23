import { Body, Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy, Public } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import { Problem, RETRY_AFTER_HEADER } from '../common/errors/problem';
import { AuthService, SignedIn } from './auth.service';
import {
  ChangePasswordDto,
  LoginDto,
  LoginResponse,
  MeResponse,
  TotpEnrollResponse,
  TotpVerifyDto,
  TotpVerifyResponse,
} from './dto/auth.dto';
import { ApiStepUpResponses, StepUpDto, StepUpResponse } from './dto/step-up.dto';
import { StepUpService } from './step-up.service';
import { STEP_UP_MINUTES } from '../authz/step-up';
import { BodyReadByGuard } from '../common/http/undeclared-input.guard';
import { LocalAuthGuard } from './local-auth.guard';
import { REAUTH_PER_MINUTE } from './reauthentication.service';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly stepUps: StepUpService,
  ) {}

  @Post('login')
  @Public()
  @UseGuards(LocalAuthGuard)
  @BodyReadByGuard()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in; returns a 15-minute access token',
    description:
      'Unknown username, wrong password, wrong code and disabled account all answer the same 401. After ' +
      'repeated failures the account is locked for a while from that client address (5 by default), from ' +
      'every address after many more (50), and the client IP separately: 429. ' +
      'Supervisors and admins must send `totp` once two-factor is set up: the right password without it ' +
      'answers 401 auth.totp_required (the first step of a two-step sign-in, which tells that the password ' +
      'was right: the code protects the account from then on; such answers are on the access log). Ten ' +
      "wrong codes in a row refuse the account's codes, the right one too, until an administrator resets " +
      'its two-factor: 429 auth.totp_locked, without Retry-After.',
  })
  @ApiBody({ type: LoginDto })
  @ApiOkResponse({ type: LoginResponse })
  @ApiBadRequestResponse({ type: Problem })
  @ApiUnauthorizedResponse({ type: Problem })
  @ApiTooManyRequestsResponse({
    type: Problem,
    headers: RETRY_AFTER_HEADER,
    description:
      'auth.throttled: the account or the address is locked after failed attempts (Retry-After); ' +
      'auth.totp_locked: ten wrong codes in a row (no Retry-After: until an administrator resets two-factor)',
  })
  @ApiServiceUnavailableResponse({
    type: Problem,
    headers: RETRY_AFTER_HEADER,
    description:
      'The database is unavailable or the request met contention, or too many sign-ins are being checked at ' +
      'once (their passwords hashed): nothing was done; try again after Retry-After seconds',
  })
  login(@Req() req: Request & { user?: SignedIn }): LoginResponse {
    const s = req.user!;
    return {
      accessToken: s.accessToken,
      tokenType: 'Bearer',
      expiresIn: s.expiresIn,
      user: s.user,
      totpEnrollmentRequired: s.totpEnrollmentRequired,
      passwordChangeRequired: s.passwordChangeRequired,
    };
  }

  @Post('logout')
  @Policy('delete', 'Session')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: the access token is refused from now on' })
  @ApiNoContentResponse({ description: 'Signed out' })
  async logout(@CurrentPrincipal() p: Principal): Promise<void> {
    await this.auth.signOut(p);
  }

  @Post('step-up')
  @Policy('update', 'Session')
  @HttpCode(200)
  @ApiOperation({
    summary: `Confirm it is you (password, and a new authenticator code with two-factor): for ${STEP_UP_MINUTES} minutes this session may administer accounts and organisations, and review emergency accesses`,
    description:
      'Account and organisation administration (creating or changing an account, creating or changing an ' +
      'organisation) and a verdict on an emergency access (POST /break-glass/:id/review) answer 403 ' +
      '`auth.step_up_required` without a step-up of the same session in the last ' +
      `${STEP_UP_MINUTES} minutes: a stolen access token alone then creates no account and resets no password. ` +
      'Kept per access token, never past its expiry. On the access log as `auth.step_up`.',
  })
  @ApiBody({ type: StepUpDto })
  @ApiOkResponse({ type: StepUpResponse })
  @ApiStepUpResponses()
  stepUp(@CurrentPrincipal() p: Principal, @Body() dto: StepUpDto): Promise<StepUpResponse> {
    return this.stepUps.stepUp(p, dto);
  }

  @Post('password')
  @Policy('update', 'Session')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Change your own password, giving the current one; every session then ends (sign in again)',
    description:
      'With two-factor, `totp` (a new authenticator code) too. ' +
      "A wrong current password counts toward a lock of your step-ups and of the address (the sign-in's " +
      'limits, 429 with Retry-After once reached; not your sign-in). The new password follows the account rules (422 ' +
      '`user.password_weak`) and must differ from the current one (422). Every attempt is on the access log ' +
      '(`auth.password_change`).',
  })
  @ApiBody({ type: ChangePasswordDto })
  @ApiNoContentResponse({ description: 'Changed; every session of the account has ended' })
  @ApiBadRequestResponse({ type: Problem })
  @ApiStepUpResponses()
  @ApiConflictResponse({ type: Problem, description: 'The password was changed meanwhile' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'Weak new password, or the current one' })
  async changePassword(@CurrentPrincipal() p: Principal, @Body() dto: ChangePasswordDto): Promise<void> {
    await this.auth.changePassword(p, dto);
  }

  @Get('me')
  @Policy('read', 'Session')
  @ApiOperation({ summary: 'The signed-in account' })
  @ApiOkResponse({ type: MeResponse })
  me(@CurrentPrincipal() p: Principal): Promise<MeResponse> {
    return this.auth.me(p);
  }

  @Post('totp/enroll')
  @Policy('update', 'Session')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Start setting up two-factor authentication: a new TOTP secret to add to an authenticator app',
    description: 'On the access log as `auth.totp_enroll` (the secret is not).',
  })
  @ApiOkResponse({ type: TotpEnrollResponse })
  @ApiConflictResponse({ type: Problem, description: 'Two-factor is already set up' })
  enroll(@CurrentPrincipal() p: Principal): Promise<TotpEnrollResponse> {
    return this.auth.enrollTotp(p);
  }

  @Post('totp/verify')
  @Policy('update', 'Session')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Finish setting up two-factor with a first code and your password; every session then ends (sign in again with a code)',
    description:
      'The password is asked again so that a stolen access token cannot bind an authenticator of its own to the ' +
      'account (the user would then be locked out at the next sign-in). On the access log as `auth.totp_activate`.',
  })
  @ApiOkResponse({ type: TotpVerifyResponse })
  // Its password only (two-factor is not set up yet, so no code is asked for): not ApiStepUpResponses.
  @ApiForbiddenResponse({
    type: Problem,
    description:
      "auth.reauthentication_failed: wrong password (counted toward a lock of the user's step-ups and of the address)",
  })
  @ApiTooManyRequestsResponse({
    type: Problem,
    headers: RETRY_AFTER_HEADER,
    description:
      "auth.throttled: the user's step-ups or the address are locked after failed attempts, or the user has " +
      `another step-up under way or has asked for ${REAUTH_PER_MINUTE} this minute`,
  })
  @ApiBadRequestResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description: 'No set-up in progress, or two-factor is already set up',
  })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'The code is not valid' })
  async verify(@CurrentPrincipal() p: Principal, @Body() dto: TotpVerifyDto): Promise<TotpVerifyResponse> {
    await this.auth.activateTotp(p, dto.code, dto.password);
    return { totpEnabled: true };
  }
}
