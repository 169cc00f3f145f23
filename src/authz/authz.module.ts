import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AbilityFactory } from './ability.factory';
import { AccessGuard } from './access.guard';

/** Access control for the whole application: the ability factory and the global access guard. */
@Global()
@Module({
  providers: [AbilityFactory, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [AbilityFactory],
})
export class AuthzModule {}
