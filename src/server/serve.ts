// serve(): a handler class straight from code, without a config file or a handler_class string.
import { parseConfig } from '../config/schema.js';
import type { ConfigSettings } from '../config/schema.js';
import type { HandlerClass } from '../session/handle.js';
import { launchServers } from './launcher.js';
import type { Launch, LaunchOptions } from './launcher.js';

/**
 * Serves `handlerClass` with the settings a YAML file would hold, one server's or several
 * under `servers`, e.g. `serve(Greeter, { transport: 'telnet', port: 4000 })`. Relative
 * paths (certificates) resolve against `baseDir`, the current folder by default.
 */
export function serve(
  handlerClass: HandlerClass,
  settings: ConfigSettings = {},
  options: Omit<LaunchOptions, 'handlerClass'> & { baseDir?: string } = {},
): Promise<Launch> {
  const config = parseConfig(settings, options.baseDir ?? process.cwd(), { requireHandlerClass: false });
  return launchServers(config, { ...options, handlerClass });
}
