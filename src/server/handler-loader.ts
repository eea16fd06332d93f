// Loads the handler class named by a config's `handler_class: "<module>:<ExportName>"`.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { tsImport } from 'tsx/esm/api';

import { keyPath } from '../config/schema.js';
import type { ServerConfig } from '../config/schema.js';
import { HandlerLoadError } from '../errors.js';
import { isHandlerClass } from '../handlers/base-handler.js';
import type { HandlerClass } from '../session/session.js';

/** Imports the module (TypeScript or JavaScript, a path or a package) and checks the export. */
export async function loadHandlerClass(config: ServerConfig): Promise<HandlerClass> {
  const at = keyPath(config, 'handler_class');
  const separator = config.handlerClass.lastIndexOf(':');
  const moduleName = config.handlerClass.slice(0, separator);
  const exportName = config.handlerClass.slice(separator + 1);
  const isPath = /^\.{0,2}[/\\]/.test(moduleName) || isAbsolute(moduleName) || /\.[cm]?[jt]s$/.test(moduleName);

  let specifier = moduleName;
  if (isPath) {
    specifier = resolve(config.baseDir, moduleName);
    if (!existsSync(specifier)) throw new HandlerLoadError(`${at}: module ${moduleName} not found (${specifier})`);
    specifier = pathToFileURL(specifier).href;
  }

  let module: Record<string, unknown>;
  try {
    module = (await tsImport(specifier, pathToFileURL(`${config.baseDir}/`).href)) as Record<string, unknown>;
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    if (!isPath && error.code === 'ERR_MODULE_NOT_FOUND' && error.message.includes(`'${moduleName}'`)) {
      throw new HandlerLoadError(`${at}: module ${moduleName} not found (not a file and not an installed package)`);
    }
    throw new HandlerLoadError(`${at}: cannot load ${moduleName}: ${firstLine(error.message)}`, { cause: err });
  }

  const exported = module[exportName];
  if (exported === undefined) {
    const names = Object.keys(module).filter((name) => name !== 'default');
    const known = names.length > 0 ? ` (it exports ${names.join(', ')})` : '';
    throw new HandlerLoadError(`${at}: ${moduleName} has no export named ${exportName}${known}`);
  }
  if (!isHandlerClass(exported)) {
    throw new HandlerLoadError(
      `${at}: ${exportName} in ${moduleName} is not a handler class ` +
        '(extend BaseHandler, LineHandler, CharacterHandler or TelnetHandler)',
    );
  }
  return exported;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
