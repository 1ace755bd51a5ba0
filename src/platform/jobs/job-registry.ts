import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { JOB_DEFINITIONS, JOB_NAMES, type JobName } from './job-definitions.js';
import { JOB_HANDLER_METADATA, type JobHandler } from './job-handler.js';

export class JobRegistryError extends Error {
  override name = 'JobRegistryError';
}

/** Finds the `@HandlesJob` providers and checks that every job has exactly one. */
@Injectable()
export class JobRegistry implements OnModuleInit {
  private readonly handlers = new Map<JobName, JobHandler<JobName>>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const found = this.discovery
      .getProviders()
      .filter((wrapper) => wrapper.instance && wrapper.metatype)
      .map((wrapper) => ({
        name: this.reflector.get<JobName | undefined>(JOB_HANDLER_METADATA, wrapper.metatype as object as Function),
        instance: wrapper.instance as JobHandler<JobName>,
        className: (wrapper.metatype as Function).name,
      }))
      .filter((h): h is { name: JobName; instance: JobHandler<JobName>; className: string } => h.name !== undefined);
    validateHandlers(found.map(({ name, className }) => ({ name, className })));
    for (const { name, instance } of found) this.handlers.set(name, instance);
  }

  handlerOf(name: JobName): JobHandler<JobName> {
    const handler = this.handlers.get(name);
    if (!handler) throw new JobRegistryError(`Job "${name}" has no handler`);
    return handler;
  }
}

/** Throws naming every job with no handler, two handlers, or no definition. */
export function validateHandlers(found: ReadonlyArray<{ name: string; className: string }>): void {
  const problems: string[] = [];
  const byName = new Map<string, string[]>();
  for (const { name, className } of found) byName.set(name, [...(byName.get(name) ?? []), className]);
  for (const name of JOB_NAMES) {
    const classes = byName.get(name) ?? [];
    if (classes.length === 0) problems.push(`job "${name}" has no handler`);
    if (classes.length > 1) problems.push(`job "${name}" has ${classes.length} handlers: ${classes.join(', ')}`);
  }
  for (const [name, classes] of byName) {
    if (!(name in JOB_DEFINITIONS)) problems.push(`${classes.join(', ')} handles "${name}", which is not in the job registry`);
  }
  if (problems.length > 0) throw new JobRegistryError(`Job registry is inconsistent: ${problems.join('; ')}`);
}
