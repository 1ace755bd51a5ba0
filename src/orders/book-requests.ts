import type { BookCommand } from './core/book-commands.js';

/** What one process may ask the owner of a book: a command, or its committed L2 view. */
export type BookRequest = { readonly op: 'submit'; readonly command: BookCommand } | { readonly op: 'view'; readonly maxLevels?: number };
