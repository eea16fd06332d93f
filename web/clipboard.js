// Copy and paste in the browser terminal: a selection is copied as it is made; paste goes to xterm, which brackets it.

/**
 * Copies a mouse selection when the button is released, and keeps the browser's copy and paste
 * keys from reaching the session as Ctrl-C and Ctrl-V (but on Apple systems, which copy and paste
 * with ⌘): Ctrl-C with a selection copies it, Ctrl-Shift-C copies, Ctrl-V and Ctrl-Shift-V paste
 * (xterm wraps a paste in ESC [200~ … ESC [201~ when the application asked for bracketed paste).
 */
export function enableClipboard(term) {
  term.element.addEventListener('mouseup', () => {
    if (term.hasSelection()) copy(term);
  });
  // ⌘C and ⌘V never reach xterm; Ctrl-C and Ctrl-V stay the application's there.
  if (/Mac|iPhone|iPad/.test(navigator.platform)) return;
  term.attachCustomKeyEventHandler((event) => {
    if (!event.ctrlKey || event.altKey || event.metaKey) return true;
    const key = event.key.toLowerCase();
    if (key === 'v') return false; // the browser's own paste follows, into xterm's paste handler
    if (key !== 'c' || !(event.shiftKey || term.hasSelection())) return true;
    if (event.type === 'keydown') {
      event.preventDefault();
      copy(term);
      // Like other terminals: the next Ctrl-C interrupts again.
      if (!event.shiftKey) term.clearSelection();
    }
    return false;
  });
}

function copy(term) {
  const text = term.getSelection();
  if (text === '') return;
  // The Clipboard API exists only on https and localhost; elsewhere the copy command still works, while the user acts.
  if (navigator.clipboard?.writeText === undefined) copyByCommand(term);
  else navigator.clipboard.writeText(text).catch(() => copyByCommand(term));
}

/** Copies through xterm's own copy handler, which puts its selection on the clipboard. */
function copyByCommand(term) {
  term.focus();
  document.execCommand('copy');
}
