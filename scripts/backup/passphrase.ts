/**
 * The passphrase that seals a backup: from a file (`--passphrase-file`, first line) or
 * CCTV_BACKUP_PASSPHRASE, never from the command line (other users see it in `ps`).
 */
import { readFile } from 'node:fs/promises';

const MIN_LENGTH = 12;

export async function readPassphrase(file: string | undefined): Promise<string | null> {
  const text = file
    ? ((await readFile(file, 'utf8')).split('\n')[0] ?? '')
    : (process.env.CCTV_BACKUP_PASSPHRASE ?? '');
  if (!text && !file) return null;
  if (text.length < MIN_LENGTH) throw new Error(`the passphrase must have at least ${MIN_LENGTH} characters`);
  return text;
}
