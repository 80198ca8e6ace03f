/**
 * `{ ...defaults, ...options }` where an option given as `undefined` keeps its default (a plain
 * spread would overwrite the default with `undefined`, and callers often pass optional fields through).
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as D & O;
}
