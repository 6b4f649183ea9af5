/**
 * The left navigation, in display order. Later screens add one entry here
 * (and their route in src/routes.ts). `section` groups entries under a
 * heading; `perm` hides an entry from users without that permission once
 * auth exists.
 */
import type { Component } from 'svelte';
import HomeIcon from './icons/HomeIcon.svelte';

export interface NavItem {
  href: string;
  label: string;
  icon: Component<{ size?: number }>;
  /** Active only on exactly this path (default: also on sub-paths). */
  exact?: boolean;
  section?: string;
  perm?: string;
}

export const navItems: NavItem[] = [
  { href: '/', label: 'Home', icon: HomeIcon, exact: true },
  // { href: '/attack', label: 'ATT&CK', icon: GridIcon, section: 'Library' },
  // { href: '/library', label: 'Templates', icon: BookIcon, section: 'Library' },
  // { href: '/missions', label: 'Missions', icon: TargetIcon, section: 'Engagements' },
  // { href: '/admin/users', label: 'Users', icon: UsersIcon, section: 'Administration', perm: 'user.manage' },
];

/** Groups items by section, keeping first-appearance order. */
export function navSections(items: NavItem[]): { section: string | null; items: NavItem[] }[] {
  const out: { section: string | null; items: NavItem[] }[] = [];
  for (const item of items) {
    const key = item.section ?? null;
    let group = out.find((g) => g.section === key);
    if (!group) out.push((group = { section: key, items: [] }));
    group.items.push(item);
  }
  return out;
}
