import { Type } from '@sinclair/typebox';

/** Node and camera ids: lowercase, digits and dashes, 1–63 characters, starting alphanumeric. */
export const ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
const idRe = new RegExp(ID_PATTERN);

export const NodeId = Type.String({ pattern: ID_PATTERN });
export const CameraId = Type.String({ pattern: ID_PATTERN });

export function isValidId(id: string): boolean {
  return idRe.test(id);
}
