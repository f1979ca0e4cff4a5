import { Type } from '@sinclair/typebox';
import { ID_PATTERN } from './patterns.ts';

export { ID_PATTERN, isValidId } from './patterns.ts';

export const NodeId = Type.String({ pattern: ID_PATTERN });
export const CameraId = Type.String({ pattern: ID_PATTERN });
