/**
 * Sign-in: the analyst's key file (blindsum analyst keygen) read from a file input and parsed with
 * the CLI's parser (services/common/key-format.ts); kept in memory, and optionally saved in
 * IndexedDB encrypted under a passphrase (web/lib/key-store.ts). The secret key is never sent.
 */
import { parseIdentityKey } from '../../../services/common/key-format.ts';
import { byId, replace } from '../../lib/dom.ts';
import { forgetKey, saveKey, savedKey, unlockKey } from '../../lib/key-store.ts';
import type { SignedInAnalyst } from '../../lib/analyst-client.ts';

export function wireSignIn(onSignedIn: (me: SignedInAnalyst) => void): void {
  const status = byId('signin-status');
  const say = (text: string, error = false): void => {
    replace(status, text);
    status.classList.toggle('error', error);
  };
  const fileInput = byId<HTMLInputElement>('key-file');
  const save = byId<HTMLInputElement>('save-key');
  const pass = byId<HTMLInputElement>('save-passphrase');
  const unlockPass = byId<HTMLInputElement>('unlock-passphrase');
  const savedBox = byId('saved-key');

  const refreshSaved = async (): Promise<void> => {
    try {
      const s = await savedKey();
      savedBox.toggleAttribute('hidden', !s);
      if (s) replace(byId('saved-key-id'), s.id);
    } catch {
      savedBox.setAttribute('hidden', '');
    }
  };

  const signIn = async (text: string, where: string, persist: boolean): Promise<void> => {
    const { id, identity } = parseIdentityKey(text, where);
    if (persist) {
      await saveKey(id, text, pass.value);
      pass.value = '';
      await refreshSaved();
    }
    say(`signed in as ${id}${persist ? ' (key saved in this browser, encrypted)' : ' (key in this page\'s memory only)'}`);
    onSignedIn({ id, identity });
  };

  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (!f) return;
    if (f.size > 4096) return say(`${f.name} is not a key file (larger than 4 KiB)`, true);
    f.text().then((text) => signIn(text, f.name, save.checked)).catch((e: unknown) => say((e as Error).message, true)).finally(() => {
      fileInput.value = '';
    });
  });
  byId('unlock-key').addEventListener('click', () => {
    const passphrase = unlockPass.value;
    unlockPass.value = '';
    unlockKey(passphrase).then((text) => signIn(text, 'saved in this browser', false)).catch((e: unknown) => {
      say((e as Error).message, true);
      unlockPass.focus();
    });
  });
  byId('forget-key').addEventListener('click', () => {
    forgetKey().then(refreshSaved).then(() => say('the saved key was deleted from this browser')).catch((e: unknown) => say((e as Error).message, true));
  });
  save.addEventListener('change', () => byId('save-passphrase-field').toggleAttribute('hidden', !save.checked));
  void refreshSaved();
}
