#!/usr/bin/env node
// server-launcher's entry: starts the command with V8's young generation held at its initial size.
import { setFlagsFromString } from 'node:v8';

// Start-up (loading modules, parsing the config) makes garbage fast, and V8 answers by growing its
// young generation to 16 MB, which an idle launcher then keeps resident. Held at its initial 2 MB
// until the command serves, it then grows by 8 at once when load asks for more: straight back to
// the 16 MB a start-up gave it, so that a loaded server scavenges as often as it always did.
setFlagsFromString('--semi-space-growth-factor=1');
await import('./command.js');
setFlagsFromString('--semi-space-growth-factor=8');
