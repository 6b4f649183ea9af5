package results

// SetReportOrganisation sets the organisation shown by a report (tests).
func SetReportOrganisation(r *Report, name, logo string) { r.Organisation, r.logo = name, logo }

// WithMissionRows makes Coverage sum per-mission rows even where the
// organisation rows answer (tests compare both).
func WithMissionRows(p CoverageParams) CoverageParams { p.missionRows = true; return p }
