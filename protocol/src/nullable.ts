import { type TSchema, Type } from '@sinclair/typebox';

/** `T | null`: how answers say "none" (never an absent field). */
export const Nullable = <S extends TSchema>(schema: S) => Type.Union([schema, Type.Null()]);
