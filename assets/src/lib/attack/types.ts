/**
 * The ATT&CK catalogue as the API returns it (app/mitre/query.go and sync.go).
 */

/** active, or why an entry is hidden from lists by default. */
export type CatalogueState = 'active' | 'revoked' | 'deprecated' | 'removed';

export interface CatalogueCounts {
  tactics: number;
  techniques: number;
  subtechniques: number;
  active_techniques: number;
  active_subtechniques: number;
}

/** How a sync was verified: by an expected sha256, by the pinned release's content, or not at all. */
export type Verification = 'sha256' | 'pinned_release' | 'unverified' | '';

/** GET /mitre/status */
export interface MitreStatus {
  last_sync: string | null;
  version: string;
  source_url: string;
  /** sha256 of the imported bundle's content (uncompressed). */
  sha256: string;
  /** sha256 of the file as received (differs when it was gzipped). */
  file_sha256?: string;
  /** The release's content digest (app/mitre/digest.go; docs/API.md). */
  canonical_digest?: string;
  verified: boolean;
  verification: Verification;
  /** Set when an administrator verified the catalogue after importing it. */
  verified_at?: string | null;
  spec_version: string;
  counts: CatalogueCounts;
  change_count: number;
  default_url: string;
  default_version: string;
  default_sha256: string;
  /** The canonical digest of the pinned release. */
  default_digest?: string;
}

export interface Tactic {
  id: string;
  external_id: string;
  shortname: string;
  name: string;
  description: string;
  url: string;
  position: number;
  state: CatalogueState;
  technique_count: number;
}

export interface TacticRef {
  external_id: string;
  shortname: string;
  name: string;
}

export interface SubRef {
  id: string;
  external_id: string;
  name: string;
  state: CatalogueState;
}

/** A technique or subtechnique in a list (no description). */
export interface Technique {
  id: string;
  kind: 'technique' | 'subtechnique';
  external_id: string;
  name: string;
  url: string;
  platforms: string[];
  tactics: TacticRef[];
  state: CatalogueState;
  replaced_by?: SubRef;
  parent?: SubRef;
  /** Left out of the JSON when there are none. */
  subtechniques?: SubRef[];
}

/** GET /mitre/techniques/{external_id} */
export interface TechniqueDetail extends Technique {
  description?: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}

export interface Change {
  kind: 'tactic' | 'technique' | 'subtechnique';
  external_id: string;
  name: string;
  old_name?: string;
  replaced_by?: string;
}

export const CHANGE_KINDS = ['added', 'renamed', 'revoked', 'deprecated', 'removed', 'restored'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];
export type Changes = Record<ChangeKind, Change[] | null | undefined>;

export interface AffectedTag {
  test_template_id: string;
  test_template_name: string;
  kind: string;
  external_id: string;
  name: string;
  state: CatalogueState;
  replaced_by?: string;
}

/** POST /mitre/sync */
export interface SyncResult {
  synced_at: string;
  version: string;
  source_url: string;
  sha256: string;
  verified: boolean;
  verification: Verification;
  spec_version: string;
  domain: string;
  objects: number;
  counts: CatalogueCounts;
  change_count: number;
  changes: Changes;
  affected_tags: AffectedTag[] | null;
  duration_ms: number;
}

/** The options of a sync besides the file (multipart fields or JSON). */
export interface SyncOptions {
  expected_sha256?: string;
  version?: string;
  allow_unverified?: boolean;
}
