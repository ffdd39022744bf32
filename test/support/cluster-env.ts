import { randomBytes } from 'node:crypto';

/** The shared PostgreSQL of specs (`TEST_DATABASE_URL`, else the machine's default one). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A PostgreSQL schema name no other spec or run uses. */
export const uniqueSchema = (name: string) => `${name.replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${randomBytes(3).toString('hex')}`;
