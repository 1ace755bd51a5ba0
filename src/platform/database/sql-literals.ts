/**
 * SQL literals for statements sent as one simple-protocol query string (several statements in
 * one round trip, which the extended protocol's bound parameters cannot do). Every value goes
 * through `literal`, which quotes the way PostgreSQL's own quote_literal does, so no value can end
 * the literal early; arrays are sent as one array literal (`'{...}'::type[]`), which PostgreSQL
 * parses far faster than an ARRAY[...] of many literals.
 */

/** A quoted SQL string literal; E'' form when it holds a backslash (as pg's escapeLiteral). */
export function literal(value: string): string {
  let quoted = `'${value.replaceAll("'", "''")}'`;
  if (value.includes('\\')) quoted = `E${quoted.replaceAll('\\', '\\\\')}`;
  return quoted;
}

/** A typed SQL array of text-form values; `null` elements are SQL NULL. */
export function arrayLiteral(values: ReadonlyArray<string | number | bigint | boolean | null>, type: string): string {
  const elements = values.map((v) => (v === null ? 'NULL' : `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`));
  return `${literal(`{${elements.join(',')}}`)}::${type}[]`;
}
