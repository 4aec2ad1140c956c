/**
 * A DI token for an extension point: a symbol that carries the interface's type. The interface and
 * its token share one name (`DirectoryStore` is both), VS Code style. The symbol is
 * `Symbol.for('credroam.<Name>')`: the same in every copy of this module, so a plugin written in
 * plain JavaScript may spell it out.
 */
export type ExtensionPointToken<T> = symbol & { readonly __extensionPoint?: T };

/** The one token factory: `extensionPointToken<LocalStore>('LocalStore')`. */
export function extensionPointToken<T>(name: string): ExtensionPointToken<T> {
  return Symbol.for(`credroam.${name}`) as ExtensionPointToken<T>;
}
