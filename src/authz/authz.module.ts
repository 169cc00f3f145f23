import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AbilityFactory } from './ability.factory';
import { AccessGuard } from './access.guard';
import { UndeclaredInputGuard } from '../common/http/undeclared-input.guard';

/**
 * Access control for the whole application: the ability factory and the global access guard, then (global guards
 * run in the order given, before a route's own) the refusal of input a route would drop unread.
 */
@Global()
@Module({
  providers: [
    AbilityFactory,
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_GUARD, useClass: UndeclaredInputGuard },
  ],
  exports: [AbilityFactory],
})
export class AuthzModule {}
