/**
 * The mission form (new mission and edit): its labels and client checks,
 * worded like the server's (app/missions/service.go), so a problem reads
 * the same whether the browser or the server found it.
 */
import { FormCheck, dateOrderProblem, textProblem, type FieldErrors } from '../forms';

export interface MissionForm {
  name: string;
  description: string;
  starts_on: string;
  ends_on: string;
}

export const MISSION_LABELS: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  starts_on: 'Start date',
  ends_on: 'End date',
  status: 'Status',
};

/** A new FormCheck holding the client-side problems of the form. */
export function checkMission(f: MissionForm): FormCheck {
  return new FormCheck(MISSION_LABELS)
    .add('name', textProblem(f.name, 200, true))
    .add('description', textProblem(f.description, 20_000))
    .add('ends_on', dateOrderProblem(f.starts_on, f.ends_on));
}

/** The errors of a failed save, worded with the mission labels. */
export function missionServerErrors(err: unknown): FieldErrors {
  return new FormCheck(MISSION_LABELS).server(err);
}
