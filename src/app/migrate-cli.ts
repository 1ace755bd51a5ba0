/**
 * `npm run migration:run | migration:revert | migration:show`: the schema changes only through
 * these, with the same options as the service.
 */
import dataSource from './data-source.js';
import { ensureMigrated, pendingMigrations } from '../platform/database/migrations.js';

const command = process.argv[2];

async function main(): Promise<void> {
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const pending = await pendingMigrations(dataSource);
      console.log(pending.length ? `Running ${pending.length} migration(s): ${pending.join(', ')}` : 'Nothing to migrate.');
      await ensureMigrated(dataSource, true);
      if (pending.length) console.log('Done.');
    } else if (command === 'revert') {
      const pending = new Set(await pendingMigrations(dataSource));
      const last = dataSource.migrations.map((m) => m.name!).filter((name) => !pending.has(name)).pop();
      if (last === undefined) {
        console.log('Nothing to revert.');
      } else {
        await dataSource.undoLastMigration({ transaction: 'each' });
        console.log(`Reverted ${last}.`);
      }
    } else if (command === 'show') {
      const pending = new Set(await pendingMigrations(dataSource));
      for (const m of dataSource.migrations) console.log(`${pending.has(m.name!) ? '[ ]' : '[X]'} ${m.name}`);
    } else {
      throw new Error(`Unknown command "${command}": use run, revert or show`);
    }
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
