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
  CreateUserDto,
  UpdatedUserView,
  UpdateUserDto,
  UserList,
  UserListQuery,
  UserView,
} from './dto/user.dto';
import { UsersService } from './users.service';

@ApiTags('accounts')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @Policy('create', 'User')
  @RequiresStepUp()
  @ApiOperation({ summary: 'Create an account with one role and its scope (admin)' })
  @ApiCreatedResponse({ type: UserView })
  @ApiBadRequestResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'The username is taken' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'Weak password, or unknown commune, organisation or province',
  })
  create(
    @Body() dto: CreateUserDto,
    @CurrentPrincipal() caller: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<UserView> {
    return this.users.create(dto, caller, ability);
  }

  @Get()
  @Policy('read', 'User')
  @ApiOperation({
    summary: 'List accounts (admin)',
    description: 'Pages of 50 unless pageSize says otherwise (at most 200).',
  })
  @ApiOkResponse({ type: UserList })
  list(@Query() query: UserListQuery, @CurrentAbility() ability: AppAbility): Promise<UserList> {
    return this.users.list(query, ability);
  }

  @Get(':id')
  @Policy('read', 'User', { record: 'id' })
  @ApiOperation({ summary: 'One account (admin)' })
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse({ type: Problem })
  get(@UuidParam() id: string, @CurrentAbility() ability: AppAbility): Promise<UserView> {
    return this.users.get(id, ability);
  }

  @Patch(':id')
  @Policy('update', 'User', { record: 'id' })
  @RequiresStepUp()
  @ApiOperation({
    summary: 'Disable or re-enable an account, reset its password or two-factor, change its communes (admin)',
    description:
      'Disabling, a password or two-factor reset and a change of communes end every session of the account. ' +
      "An administrator's own password or two-factor is not reset here (403 auth.forbidden: " +
      "POST /api/v1/auth/password changes one's own password, with the current one).",
  })
  @ApiOkResponse({ type: UpdatedUserView })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description: 'Disabling your own account, or the last active administrator',
  })
  @ApiUnprocessableEntityResponse({ type: Problem })
  update(
    @UuidParam() id: string,
    @Body() dto: UpdateUserDto,
    @CurrentPrincipal() caller: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<UpdatedUserView> {
    return this.users.update(id, dto, caller, ability);
  }
}
