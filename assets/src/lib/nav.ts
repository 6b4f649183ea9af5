/**
 * The left navigation, in display order. Later screens add one entry here
 * (and their route in src/routes.ts). `section` groups entries under a
 * heading; `perm` hides an entry from users without that permission once
 * auth exists.
 */
import type { Component } from 'svelte';
import HomeIcon from './icons/HomeIcon.svelte';
import GridIcon from './icons/GridIcon.svelte';
import UsersIcon from './icons/UsersIcon.svelte';
import ShieldIcon from './icons/ShieldIcon.svelte';
import UserPlusIcon from './icons/UserPlusIcon.svelte';
import ClipboardListIcon from './icons/ClipboardListIcon.svelte';
import TargetIcon from './icons/TargetIcon.svelte';
import BookIcon from './icons/BookIcon.svelte';
import LayersIcon from './icons/LayersIcon.svelte';
import BarChartIcon from './icons/BarChartIcon.svelte';
import UploadIcon from './icons/UploadIcon.svelte';
import ServerIcon from './icons/ServerIcon.svelte';
import SlidersIcon from './icons/SlidersIcon.svelte';
import DatabaseIcon from './icons/DatabaseIcon.svelte';
import CompassIcon from './icons/CompassIcon.svelte';

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
  { href: '/attack', label: 'ATT&CK', icon: GridIcon, section: 'Library' },
  { href: '/library', label: 'Test templates', icon: BookIcon, exact: true, section: 'Library', perm: 'test_template.read' },
  { href: '/library/scenarios', label: 'Scenarios', icon: LayersIcon, section: 'Library', perm: 'scenario_template.read' },
  { href: '/layers/import', label: 'Plan from a layer', icon: UploadIcon, section: 'Library', perm: 'test_template.read' },
  { href: '/missions', label: 'Missions', icon: TargetIcon, section: 'Engagements', perm: 'mission.read' },
  { href: '/coverage', label: 'Coverage', icon: BarChartIcon, section: 'Engagements', perm: 'mission.read' },
  { href: '/bundles', label: 'Bundles', icon: UploadIcon, section: 'Engagements', perm: 'bundle.import' },
  { href: '/admin/users', label: 'Users', icon: UsersIcon, section: 'Administration', perm: 'user.manage' },
  { href: '/admin/groups', label: 'Groups', icon: ShieldIcon, section: 'Administration', perm: 'group.manage' },
  { href: '/admin/invitations', label: 'Invitations', icon: UserPlusIcon, section: 'Administration', perm: 'invitation.manage' },
  { href: '/admin/settings', label: 'Settings', icon: SlidersIcon, section: 'Administration', perm: 'settings.manage' },
  { href: '/admin/audit', label: 'Audit log', icon: ClipboardListIcon, section: 'Administration', perm: 'audit.read' },
  { href: '/admin/system', label: 'System', icon: ServerIcon, section: 'Administration', perm: 'settings.manage' },
  { href: '/admin/backups', label: 'Backups', icon: DatabaseIcon, section: 'Administration', perm: 'backup.manage' },
  { href: '/help/api', label: 'API', icon: CompassIcon, section: 'Help' },
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
