/**
 * Camera passwords at rest (docs/adr/0015): AES-256-GCM with a key kept in a file outside the
 * database (`MASTER_CAMERA_KEY_FILE`, 0600, made on the first start), so a database dump or a
 * role that reads every table finds only ciphertext. A sealed value names the key it was sealed
 * with (`v1.<keyId>.<iv>.<tag>.<ciphertext>`, base64url), so a key can be replaced later while
 * old versions stay readable. The node id and version are bound in as associated data: a
 * ciphertext copied to another node's row does not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readSecretFile, writeSecretFile } from '../auth/secret-files.ts';

interface KeyFile {
  /** Current key first; older ones still open what they sealed. */
  keys: { id: string; key: string; createdAt: string }[];
}

export class SecretBoxError extends Error {
  readonly code = 'SECRET_UNREADABLE';
}

export class SecretBox {
  private constructor(
    private readonly keys: Map<string, Buffer>,
    private readonly currentId: string,
  ) {}

  /** Loads the key file, making it (and its folder, 0700) on the first start. */
  static async open(file: string): Promise<SecretBox> {
    let stored = await readSecretFile<KeyFile>(file);
    if (!stored?.keys?.length) {
      const key = randomBytes(32);
      const id = createHash('sha256').update(key).digest('base64url').slice(0, 8);
      stored = { keys: [{ id, key: key.toString('base64url'), createdAt: new Date().toISOString() }] };
      await writeSecretFile(file, stored);
    }
    const keys = new Map<string, Buffer>();
    for (const k of stored.keys) {
      const key = Buffer.from(k.key, 'base64url');
      if (key.length !== 32) throw new Error(`${file}: key ${k.id} is not 32 bytes`);
      keys.set(k.id, key);
    }
    return new SecretBox(keys, stored.keys[0]?.id ?? '');
  }

  seal(plain: string, context: string): string {
    const key = this.keys.get(this.currentId) as Buffer;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', this.currentId, iv, cipher.getAuthTag(), body]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  open(sealed: string, context: string): string {
    const [v, id, iv, tag, body] = sealed.split('.');
    const key = id ? this.keys.get(id) : undefined;
    if (v !== 'v1' || !key || iv === undefined || tag === undefined || body === undefined)
      throw new SecretBoxError(
        `a sealed secret uses ${key ? 'an unknown format' : `a key (${id}) this master does not have`}`,
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SecretBoxError(
        'a sealed secret does not open with its key (altered, or moved to another row)',
      );
    }
  }
}
