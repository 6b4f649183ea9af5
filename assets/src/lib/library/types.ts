/** The template library's JSON shapes (app/templates/model.go). */

export type TagKind = 'tactic' | 'technique' | 'subtechnique';
export type TagState = 'active' | 'revoked' | 'deprecated' | 'removed';
export type Opsec = 'low' | 'medium' | 'high';

export interface TagRef {
  kind: TagKind;
  external_id: string;
}

export interface MitreTag extends TagRef {
  name: string;
  url: string;
  state: TagState | string;
}

export interface InputArgument {
  name: string;
  description: string;
  type: string;
  default: unknown;
}

export interface Prerequisite {
  description: string;
  prereq_command: string;
  get_prereq_command: string;
}

export interface TestTemplate {
  id: string;
  name: string;
  description: string;
  objective: string;
  executor: string;
  command: string;
  cleanup_command: string;
  prerequisites_executor: string;
  prerequisites: Prerequisite[] | null;
  input_arguments: InputArgument[] | null;
  elevation_required: boolean;
  platforms: string[] | null;
  expected_detection: string;
  opsec_level: Opsec | string;
  tags: string[] | null;
  mitre_tags: MitreTag[] | null;
  source: string;
  source_ref: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  warnings?: string[];
}

export interface TemplateInput {
  name: string;
  description: string;
  objective: string;
  executor: string;
  command: string;
  cleanup_command: string;
  prerequisites_executor: string;
  prerequisites: Prerequisite[];
  input_arguments: InputArgument[];
  elevation_required: boolean;
  platforms: string[];
  expected_detection: string;
  opsec_level: string;
  tags: string[];
  mitre_tags: TagRef[];
}

export interface ScenarioTest {
  position: number;
  test_template_id: string;
  name: string;
  opsec_level: string;
  platforms: string[] | null;
  deleted: boolean;
  mitre_tags: MitreTag[] | null;
}

export interface CoverageItem {
  external_id: string;
  name: string;
  tests: number;
}

export interface Scenario {
  id: string;
  name: string;
  description: string;
  version: number;
  tests: ScenarioTest[] | null;
  coverage: { tactics: CoverageItem[] | null; techniques: CoverageItem[] | null };
  test_count: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface Page<T> {
  items: T[] | null;
  total: number;
  page: number;
  per_page: number;
}

export interface AtomicReport {
  files: number;
  tests: number;
  created: number;
  updated: number;
  unchanged: number;
  skipped: { file: string; test: string; reason: string }[] | null;
  warnings: { file: string; test: string; message: string }[] | null;
  per_file: {
    file: string;
    attack_technique: string;
    tests: number;
    created: number;
    updated: number;
    unchanged: number;
    skipped: number;
  }[] | null;
  duration_ms: number;
}

export const OPSEC_LEVELS: Opsec[] = ['low', 'medium', 'high'];

/** The platforms ATT&CK and Atomic Red Team use. */
export const PLATFORMS = ['windows', 'linux', 'macos', 'containers', 'iaas', 'azure-ad', 'office-365', 'google-workspace', 'saas', 'network'];
