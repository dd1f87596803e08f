export type TestEngine = 'postgres' | 'embedded';

/** The engine this test run uses: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export const engine: TestEngine = process.env.DATABASE_URL ? 'postgres' : 'embedded';
export const adminDatabaseUrl: string | undefined = process.env.DATABASE_URL;
