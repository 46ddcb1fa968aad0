/**
 * The analyst's CKKS key on the analyst page: the key file of `blindsum analyst ckks-keygen` (the
 * one `blindsum query --backend ckks --ckks-key` reads), parsed by the CLI's parser
 * (client/ckks-release.ts) and held in this page's memory only (never stored, never sent: only
 * its public key travels with a CKKS query). CKKS results are decrypted with it in the page.
 */
import { MAX_CKKS_KEY_FILE_BYTES, parseAnalystCkksKey, type AnalystCkksKey } from '../../../client/ckks-release.ts';
import { sha256Hex } from '../../../services/common/ckks.ts';
import { byId, replace } from '../../lib/dom.ts';

let key: AnalystCkksKey | undefined;

/** The CKKS key loaded in this page, if any. */
export function ckksKey(): AnalystCkksKey | undefined {
  return key;
}

/** Wires the CKKS key file input; `onLoaded` runs after a key is loaded (e.g. to retry a decryption). */
export function wireCkksKey(onLoaded: () => void): void {
  const input = byId<HTMLInputElement>('ckks-key-file');
  const status = byId('ckks-key-status');
  const say = (text: string, error = false): void => {
    replace(status, text);
    status.classList.toggle('error', error);
  };
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (!f) return;
    if (f.size > MAX_CKKS_KEY_FILE_BYTES) {
      key = undefined;
      say(`${f.name} is not a CKKS key file (larger than ${MAX_CKKS_KEY_FILE_BYTES} bytes)`, true);
      input.value = '';
      return;
    }
    f.text().then((text) => {
      key = undefined;
      key = parseAnalystCkksKey(text, f.name);
      say(`CKKS key loaded (${key.params}, public key SHA-256 ${sha256Hex(key.publicKey).slice(0, 16)}…; in this page's memory only)`);
      onLoaded();
    }).catch((e: unknown) => say((e as Error).message, true)).finally(() => {
      input.value = '';
    });
  });
}
