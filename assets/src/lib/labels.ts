/**
 * The labels of the API fields as the screens show them: one map per kind of
 * object, used to word field errors (lib/forms.ts) so that a problem the
 * server found reads like one the browser found.
 */

export const TEMPLATE_LABELS: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  objective: 'Objective',
  mitre_tags: 'ATT&CK tags',
  opsec_level: 'OPSEC level',
  executor: 'Executor',
  platforms: 'Platforms',
  command: 'Command',
  cleanup_command: 'Cleanup command',
  input_arguments: 'Input arguments',
  prerequisites_executor: 'Prerequisites executor',
  prerequisites: 'Prerequisites',
  expected_detection: 'Expected detection',
  tags: 'Tags',
};

export const SCENARIO_LABELS: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  test_template_ids: 'Tests',
};

/** Mission test fields: planning, the red operator log and the blue assessment. */
export const TEST_FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  objective: 'Objective',
  expected_detection: 'Expected detection',
  category_id: 'Category',
  assigned_red_user_id: 'Red assignee',
  assigned_blue_user_id: 'Blue assignee',
  operator: 'Operator',
  started_at: 'Started',
  finished_at: 'Finished',
  source_host: 'Source host',
  source_ip: 'Source IP',
  target_host: 'Target host',
  target_ip: 'Target IP',
  tool: 'Tool',
  user_context: 'User context',
  command: 'Command',
  output: 'Output',
  execution_result: 'Result',
  red_notes: 'Red notes',
  skip_reason: 'Reason for skipping',
  state: 'State',
  blue_notes: 'Blue notes',
  control: 'Control',
  detection_level: 'Detection level',
  alert_name: 'Alert / rule name',
  notes: 'Notes',
  logged_at: 'Logged at',
  alerted_at: 'Alerted at',
  prevented_at: 'Prevented at',
};

export const LEVEL_LABELS: Record<string, string> = {
  key: 'Key',
  name: 'Name',
  description: 'Description',
  color: 'Colour',
  rank: 'Rank',
  counts_as_detected: 'Counts as detected',
  ids: 'Order',
};
