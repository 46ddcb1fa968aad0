/** The part of pg-cursor (no bundled types) that services/party/sources/postgres.ts uses. */
declare module 'pg-cursor' {
  import type { CustomTypesConfig, FieldDef, Submittable } from 'pg';

  interface CursorConfig {
    rowMode?: 'array';
    types?: CustomTypesConfig;
  }
  interface CursorResult {
    fields: FieldDef[];
  }
  export default class Cursor implements Submittable {
    constructor(text: string, values?: unknown[] | null, config?: CursorConfig);
    submit(connection: unknown): void;
    read(rows: number, cb: (err: Error | undefined, rows: unknown[][], result: CursorResult) => void): void;
    close(cb: (err?: Error) => void): void;
  }
}
