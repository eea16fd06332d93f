// Loads the handler class named by a config's `handler_class: "<module>:<ExportName>"`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { keyPath } from '../config/schema.js';
import type { ServerConfig } from '../config/schema.js';
import { HandlerLoadError } from '../errors.js';
import { isHandlerClass } from '../handlers/base-handler.js';
import type { HandlerClass } from '../session/handle.js';
import { formatSyntaxError, locateSyntaxError } from './syntax-error.js';

const TYPESCRIPT_FILE = /\.[cm]?tsx?$/;

type ModuleImport = (specifier: string) => Promise<Record<string, unknown>>;

/** Set once the TypeScript loader is in place; it is loaded only when a handler needs it. */
let typeScriptLoader: Promise<ModuleImport> | undefined;

/**
 * Imports the module (TypeScript or JavaScript, a path or a package) and checks the export.
 * Modules come from the process's one module cache: every server naming the same module
 * gets the same instance, and so shares its module-level state.
 */
export async function loadHandlerClass(config: ServerConfig): Promise<HandlerClass> {
  const at = keyPath(config, 'handler_class');
  const reference = config.handlerClass;
  if (reference === undefined) throw new HandlerLoadError(`${at}: missing, and no handler class was given in code`);
  const separator = reference.lastIndexOf(':');
  const moduleName = reference.slice(0, separator);
  const exportName = reference.slice(separator + 1);
  const isPath = /^\.{0,2}[/\\]/.test(moduleName) || isAbsolute(moduleName) || /\.[cm]?[jt]sx?$/.test(moduleName);

  let specifier = moduleName;
  let file: string | undefined;
  if (isPath) {
    file = resolve(config.baseDir, moduleName);
    if (!existsSync(file)) throw new HandlerLoadError(`${at}: module ${moduleName} not found (${file})`);
    specifier = pathToFileURL(file).href;
  }

  let module: Record<string, unknown>;
  try {
    module = await importModule(specifier, pathToFileURL(`${config.baseDir}/`).href);
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    if (!isPath && error.code === 'ERR_MODULE_NOT_FOUND' && error.message.includes(`'${moduleName}'`)) {
      throw new HandlerLoadError(`${at}: module ${moduleName} not found (not a file and not an installed package)`);
    }
    const syntaxError = locateSyntaxError(err, file);
    if (syntaxError !== undefined) {
      throw new HandlerLoadError(
        `${at}: cannot load ${moduleName}: syntax error at ${formatSyntaxError(syntaxError)}`,
        {
          cause: err,
        },
      );
    }
    throw new HandlerLoadError(`${at}: cannot load ${moduleName}: ${firstLine(error.message)}`, { cause: err });
  }

  // A CommonJS module whose exports Node could not name statically (compiled TypeScript among
  // them) arrives as its module.exports under `default`.
  const exports = exportName in module ? module : commonJsExports(module);
  const exported = exports[exportName];
  if (exported === undefined) {
    const names = Object.keys(exports).filter((name) => name !== 'default');
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

/** Imports a file URL or a package name (resolved from `parentUrl`), TypeScript included. */
async function importModule(specifier: string, parentUrl: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT_FILE.test(specifier)) return (await typeScriptImport())(specifier);
  const resolved = resolvePackage(specifier, parentUrl);
  try {
    return (await import(resolved)) as Record<string, unknown>;
  } catch (err) {
    // A JavaScript module that imports TypeScript in turn: load it through the TypeScript loader.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    return (await typeScriptImport())(resolved);
  }
}

/** A package as seen from the config's folder (its node_modules), else from this package's. */
function resolvePackage(specifier: string, parentUrl: string): string {
  if (specifier.startsWith('file:')) return specifier;
  try {
    return pathToFileURL(createRequire(parentUrl).resolve(specifier)).href;
  } catch {
    // Not installed there, or an ESM-only package without a "require" entry: let import() look.
    return specifier;
  }
}

/**
 * The TypeScript loader, registered for the whole process on first use. Not in a namespace of
 * its own: there, every module a handler imports (this package included) would load a second
 * time under a namespaced URL, doubling the framework in memory and in its module state.
 */
function typeScriptImport(): Promise<ModuleImport> {
  typeScriptLoader ??= Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]).then(([esm, cjs]) => {
    // A .ts file outside an ESM package is compiled to CommonJS: its imports need the require side too.
    cjs.register();
    esm.register();
    return (specifier: string) => import(specifier) as Promise<Record<string, unknown>>;
  });
  return typeScriptLoader;
}

function commonJsExports(module: Record<string, unknown>): Record<string, unknown> {
  const moduleExports = module.default;
  return typeof moduleExports === 'object' && moduleExports !== null
    ? (moduleExports as Record<string, unknown>)
    : module;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
