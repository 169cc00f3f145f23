// @casl/ability 7 publishes its types through package.json "exports" only, which the project's
// `moduleResolution: node` does not read; these point TypeScript at them.
declare module '@casl/ability' {
  export * from '@casl/ability/dist/types/index';
}
declare module '@casl/ability/extra' {
  export * from '@casl/ability/dist/types/extra/index';
}
