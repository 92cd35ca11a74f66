/**
 * Which role sections a config turns on: a role runs when its section is present and does not say
 * `enabled: false`. Generic over the role names, so it needs nothing from `src/roles`;
 * `enabledRoles()` in `src/roles/schemas.ts` applies it to jetport's roles.
 * @module
 */

/** The names in `order` whose section in `roles` is present and not `enabled: false`. */
export function enabledSections<N extends string>(
  roles: { readonly [K in N]?: { enabled?: boolean } },
  order: readonly N[],
): N[] {
  return order.filter((name) => {
    const section = roles[name];
    return section !== undefined && section.enabled !== false;
  });
}
